//! Compile-time checks of the auto traits the API promises.

use std::panic::{RefUnwindSafe, UnwindSafe};

use ctx::{Context, ContextGuard, Instrumented, Key};

fn send<T: Send>() {}
fn sync<T: Sync>() {}
fn unpin<T: Unpin>() {}
fn unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}

/// Resolves only if `T` is *not* `Send`: with a `Send` type both impls apply
/// and the call is ambiguous, which fails to compile.
trait AmbiguousIfSend<A> {
    fn some_item() {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}

trait AmbiguousIfSync<A> {
    fn some_item() {}
}
impl<T: ?Sized> AmbiguousIfSync<()> for T {}
impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}

type SendFuture = std::future::Ready<u8>;
type LocalFuture = std::future::Ready<std::rc::Rc<u8>>;

#[test]
fn auto_traits() {
    send::<Context>();
    sync::<Context>();
    unpin::<Context>();
    unwind_safe::<Context>();
    send::<Key<String>>();
    sync::<Key<String>>();

    send::<Instrumented<SendFuture>>();
    sync::<Instrumented<SendFuture>>();
    unpin::<Instrumented<SendFuture>>();
    <Instrumented<LocalFuture> as AmbiguousIfSend<_>>::some_item();

    <ContextGuard as AmbiguousIfSend<_>>::some_item();
    <ContextGuard as AmbiguousIfSync<_>>::some_item();
    <ctx::AccessError as AmbiguousIfSend<u8>>::some_item();
}

#[test]
fn instrumented_adds_one_word() {
    use std::mem::size_of;
    let fut = async {
        let x = [0u8; 16];
        tokio::task::yield_now().await;
        x
    };
    let bare = size_of_val(&fut);
    // The context is one word, and it is all `Instrumented` adds: the
    // future is stored as it is (no `Option` around it).
    assert_eq!(size_of::<Context>(), size_of::<usize>());
    let instrumented = ctx::FutureExt::in_context(fut, Context::new());
    assert_eq!(size_of_val(&instrumented), bare + size_of::<usize>());
    assert_eq!(
        size_of::<Instrumented<std::future::Ready<u64>>>(),
        size_of::<std::future::Ready<u64>>() + size_of::<usize>()
    );
}
