//! Compile-time checks of the auto traits the API promises.

use std::panic::{RefUnwindSafe, UnwindSafe};

use ctx::{Context, ContextGuard, Instrumented, Key, Scoped};

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

    send::<Scoped<SendFuture>>();
    sync::<Scoped<SendFuture>>();
    unpin::<Scoped<SendFuture>>();
    <Scoped<LocalFuture> as AmbiguousIfSend<_>>::some_item();

    <ContextGuard as AmbiguousIfSend<_>>::some_item();
    <ContextGuard as AmbiguousIfSync<_>>::some_item();
    <ctx::AccessError as AmbiguousIfSend<u8>>::some_item();
}

/// `wrap` and `wrap_fn` return `impl Fn..`: their auto traits follow the
/// closure's, so a `Send` closure stays `Send` for a thread pool, and a
/// `!Send` one is not made `Send`.
#[test]
fn wrapped_closures_keep_the_closures_auto_traits() {
    fn send_val<T: Send>(_: &T) {}
    fn sync_val<T: Sync>(_: &T) {}
    fn not_send_val<T: AmbiguousIfSend<A>, A>(_: &T) {}
    fn not_sync_val<T: AmbiguousIfSync<A>, A>(_: &T) {}

    let wrapped = ctx::wrap(|| 1);
    send_val(&wrapped);
    sync_val(&wrapped);
    let wrapped_fn = ctx::wrap_fn(|n: u8| n);
    send_val(&wrapped_fn);
    sync_val(&wrapped_fn);

    let rc = std::rc::Rc::new(1);
    let local = ctx::wrap(move || *rc);
    not_send_val(&local);
    let cell = std::cell::Cell::new(1);
    let unsync = ctx::wrap_fn(move |n: u8| cell.get() + n);
    send_val(&unsync);
    not_sync_val(&unsync);
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

#[test]
fn scoped_adds_two_words() {
    use std::mem::size_of;
    // The context, and the merge it waits to make at its first poll.
    static K: Key<u8> = Key::new("k");
    assert_eq!(
        size_of_val(&K.scope(1, std::future::ready(0u64))),
        size_of::<std::future::Ready<u64>>() + 2 * size_of::<usize>()
    );
}
