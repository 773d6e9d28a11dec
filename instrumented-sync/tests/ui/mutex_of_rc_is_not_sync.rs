// Mutex<T> is Sync only when T is Send, as std's.
fn require_sync<T: Sync>(_: &T) {}

fn main() {
    let m = instrumented_sync::Mutex::new(std::rc::Rc::new(0));
    require_sync(&m);
}
