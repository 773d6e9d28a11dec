// RwLock guards must stay on their thread, as std's.
fn require_send<T: Send>(_: T) {}

fn main() {
    let l = instrumented_sync::RwLock::new(0);
    require_send(l.read().unwrap());
}
