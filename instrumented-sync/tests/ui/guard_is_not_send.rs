// A MutexGuard must stay on its thread, as std's.
fn require_send<T: Send>(_: T) {}

fn main() {
    let m = instrumented_sync::Mutex::new(0);
    require_send(m.lock().unwrap());
}
