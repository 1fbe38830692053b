//! [`Context`]: what a context is. An immutable snapshot of typed values,
//! its table, and the copy-on-write operations that make new snapshots.
//!
//! How a thread holds its current context (the slot, scopes, guards) is
//! `slot.rs`'s; this file knows nothing of threads.

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use triomphe::ThinArc;

use crate::budget::Budget;
use crate::key::{key_addr, ErasedKey, Key};
use crate::model::{RequestId, TraceContext};
use crate::value::{self, HeaderField, Lodged, Stored, BUDGET, REQUEST_ID, TRACE_CONTEXT};

/// An immutable snapshot of typed values: the request context.
///
/// A `Context` maps [`Key`]s to values. It never changes once built: writing
/// ([`Context::with`], [`Context::without`], [`Key::set`]) makes a new
/// snapshot and leaves every copy that was already captured as it was. That is
/// what makes capture safe: a child task holds the snapshot that was current
/// when it was created, and nothing the parent does later can reach it.
///
/// Cloning is one reference count; the empty context is a null pointer and
/// allocates nothing. A `Context` is `Send + Sync`, so it can be moved to any
/// thread or task.
///
/// Each thread has a slot holding its *current* context. [`Context::enter`]
/// and [`Context::run`] install a context there for a while and restore the
/// previous one afterwards; [`Instrumented`](crate::Instrumented) does the same
/// around every poll of a future.
///
/// # Examples
///
/// ```
/// use ctx::{Context, Key};
///
/// static TENANT: Key<String> = Key::new("tenant");
///
/// let cx = Context::new().with(&TENANT, "acme".to_string());
/// assert_eq!(cx.get(&TENANT).map(String::as_str), Some("acme"));
///
/// cx.run(|| {
///     assert_eq!(TENANT.get().as_deref(), Some("acme"));
/// });
/// // Outside `run`, the thread's previous (empty) context is back.
/// assert_eq!(TENANT.get(), None);
/// ```
#[derive(Clone, Default)]
pub struct Context {
    // One pointer wide (an `Arc<[Entry]>` would be two) and one allocation
    // (an `Arc<Vec<Entry>>` would be two): the context rides in every
    // `Instrumented`, and a spawned future's size decides its task's
    // allocation class.
    entries: Option<Table>,
}

// A snapshot is never written after it is built, so a panic cannot leave one
// half-updated: observing a context after catching a panic is sound. (Values
// with interior mutability are the values' own business, as with `Arc<T>`.)
impl std::panic::UnwindSafe for Context {}
impl std::panic::RefUnwindSafe for Context {}

/// A value to put into a context: its table entry, and the value for the
/// table's header if its key has a place there (see [`Stored`]).
pub(crate) struct Entry {
    item: Item,
    lodged: Option<Lodged>,
}

/// Whether a value of a key with a replay function was ever put in a
/// context: until one is, polls need not look at their table's header.
static REPLAYS_SEEN: AtomicBool = AtomicBool::new(false);

impl Entry {
    pub(crate) fn new<T: Send + Sync + 'static>(key: &'static Key<T>, value: T) -> Entry {
        if ErasedKey::replays(key) {
            // Relaxed: the table holding the value is built after this
            // store, on this thread, and reaches others only through the
            // synchronisation that hands them the context.
            REPLAYS_SEEN.store(true, Ordering::Relaxed);
        }
        let (value, lodged) = value::store(key, value);
        Entry {
            item: Item { key, value },
            lodged,
        }
    }
}

/// One value in a context's table: its key and the value (see [`Stored`]).
/// Two words.
#[derive(Clone)]
struct Item {
    key: &'static dyn ErasedKey,
    value: Stored,
}

/// A table's header: whether any of the keys has a fork policy or a replay
/// function, so that capture and polls need not look, and the request's
/// trace context, request id and budget (see [`Stored`]).
struct Header {
    forks: bool,
    replays: bool,
    trace: Option<TraceContext>,
    request_id: Option<RequestId>,
    budget: Option<Held>,
}

/// How a header holds a budget: the table that was built with it owns it;
/// a table copied from that one (a later `with`, a scope's merge) reaches
/// it through the owner, one reference count, as it would share an `Arc`.
/// The owner holds the budget itself, never another owner.
enum Held {
    Own(Budget),
    In(Context),
}

impl Held {
    /// The budget, wherever it is.
    fn budget(&self) -> Option<&Budget> {
        match self {
            Held::Own(b) => Some(b),
            Held::In(owner) => match &owner.entries.as_ref()?.header.header.budget {
                Some(Held::Own(b)) => Some(b),
                Some(Held::In(_)) | None => None,
            },
        }
    }

    /// The budget of `held`, a field of `table`'s header, for a table
    /// copied from `table`.
    fn copy(held: &Held, table: &Context) -> Held {
        match held {
            Held::Own(b) => match b.copied() {
                Some(b) => Held::Own(b),
                None => Held::In(table.clone()),
            },
            Held::In(owner) => Held::In(owner.clone()),
        }
    }
}

impl Header {
    const EMPTY: Header = Header {
        forks: false,
        replays: false,
        trace: None,
        request_id: None,
        budget: None,
    };

    /// A copy of `table`'s header, this one, for a table copied from it.
    fn copy(&self, table: &Context) -> Header {
        Header {
            forks: self.forks,
            replays: self.replays,
            trace: self.trace.clone(),
            request_id: self.request_id.clone(),
            budget: self.budget.as_ref().map(|b| Held::copy(b, table)),
        }
    }

    /// Puts a value in its field.
    fn lodge(&mut self, lodged: Lodged) {
        match lodged {
            Lodged::Trace(t) => self.trace = Some(t),
            Lodged::RequestId(r) => self.request_id = Some(r),
            Lodged::Budget(b) => self.budget = Some(Held::Own(b)),
        }
    }

    /// The value in `field`, to downcast.
    fn get(&self, field: HeaderField) -> Option<&(dyn Any + Send + Sync)> {
        match field {
            HeaderField::Trace => Some(self.trace.as_ref()?),
            HeaderField::RequestId => Some(self.request_id.as_ref()?),
            HeaderField::Budget => Some(self.budget.as_ref()?.budget()?),
        }
    }

    /// Empties `field`.
    fn clear(&mut self, field: HeaderField) {
        match field {
            HeaderField::Trace => self.trace = None,
            HeaderField::RequestId => self.request_id = None,
            HeaderField::Budget => self.budget = None,
        }
    }
}

/// The values of a context, sorted by their key's address, with their
/// count and a header, in one allocation behind a thin pointer.
type Table = ThinArc<Header, Item>;

fn table(header: Header, items: impl ExactSizeIterator<Item = Item>) -> Option<Table> {
    (items.len() > 0).then(|| ThinArc::from_header_and_iter(header, items))
}

/// Whether an entry other than `key`'s has what `has` looks for.
fn others(entries: &[Item], key: &'static dyn ErasedKey, has: fn(&dyn ErasedKey) -> bool) -> bool {
    entries
        .iter()
        .any(|e| key_addr(e.key) != key_addr(key) && has(e.key))
}

impl Context {
    /// Returns the empty context. It allocates nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let cx = ctx::Context::new();
    /// assert!(cx.is_empty());
    /// ```
    pub const fn new() -> Context {
        Context { entries: None }
    }

    /// Returns a new context with `value` stored under `key`, replacing what
    /// was there. `self` is unchanged.
    ///
    /// Cost: two allocations, the value and the new snapshot's table (the
    /// request's [`TraceContext`](crate::trace::TraceContext) under
    /// [`TRACE_CONTEXT`](crate::trace::TRACE_CONTEXT) and its
    /// [`RequestId`](crate::propagation::RequestId) under
    /// [`REQUEST_ID`](crate::propagation::REQUEST_ID) are held in the table
    /// itself and cost only the table); the other values are shared with
    /// `self`, not copied: each costs one reference count and a two-word
    /// copy of its table entry.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{Context, Key};
    ///
    /// static REGION: Key<&'static str> = Key::new("region");
    ///
    /// let eu = Context::new().with(&REGION, "eu");
    /// let us = eu.with(&REGION, "us");
    /// assert_eq!(eu.get(&REGION), Some(&"eu"));
    /// assert_eq!(us.get(&REGION), Some(&"us"));
    /// ```
    #[must_use = "`with` returns a new context and leaves `self` unchanged"]
    pub fn with<T: Send + Sync + 'static>(&self, key: &'static Key<T>, value: T) -> Context {
        self.with_entry(Entry::new(key, value))
    }

    /// [`Context::with`] for one erased entry: one search, then the table
    /// copied around it.
    pub(crate) fn with_entry(&self, entry: Entry) -> Context {
        let Entry { item, lodged } = entry;
        let entries = self.entries();
        let mut header = self.header_copy(Some(item.key));
        if let Some(lodged) = lodged {
            header.lodge(lodged);
        }
        let (before, after) = match position(entries, item.key) {
            Ok(i) => (&entries[..i], &entries[i + 1..]),
            Err(i) => entries.split_at(i),
        };
        let splice = Splice {
            before: before.iter(),
            item: Some(item),
            after: after.iter(),
        };
        Context {
            entries: table(header, splice),
        }
    }

    /// Returns a new context with every given entry stored, replacing what
    /// was there under the same keys, built in one allocation. Entries must
    /// have distinct keys (a later one would be dropped).
    pub(crate) fn with_entries<const N: usize>(&self, mut new: [Option<Entry>; N]) -> Context {
        // One entry (a request with only a trace context): the simpler copy.
        if new.iter().flatten().count() == 1 {
            if let Some(entry) = new.iter_mut().find_map(Option::take) {
                return self.with_entry(entry);
            }
        }
        let entries = self.entries();
        // The new entries' order by key, `None`s last: indices are sorted
        // rather than the (larger) entries themselves.
        let mut order = [0; N];
        let mut added = 0;
        let mut replaced = 0;
        let mut header = self.header_copy(None);
        for (i, e) in new.iter_mut().enumerate() {
            order[i] = i;
            if let Some(e) = e {
                added += 1;
                replaced += usize::from(position(entries, e.item.key).is_ok());
                header.forks |= e.item.key.forks();
                header.replays |= e.item.key.replays();
                if let Some(lodged) = e.lodged.take() {
                    header.lodge(lodged);
                }
            }
        }
        // An insertion sort: a handful of entries, and no call into the
        // general-purpose sort.
        let rank = |i: usize| new[i].as_ref().map_or(usize::MAX, |e| key_addr(e.item.key));
        for i in 1..N {
            let mut j = i;
            while j > 0 && rank(order[j - 1]) > rank(order[j]) {
                order.swap(j - 1, j);
                j -= 1;
            }
        }
        // (A replaced entry's key is the new entry's key, with the same fork
        // policy, so `self.forks()` stays right for the entries kept.)
        let mut merge = Merge {
            old: entries,
            new,
            order,
            next_new: 0,
            len: entries.len() + added - replaced,
        };
        // By reference: the merge holds the new entries, no need to move it.
        Context {
            entries: table(header, &mut merge),
        }
    }

    /// `self` with every value of `top` put in, replacing `self`'s under
    /// the same keys: the merge a [`Scoped`](crate::Scoped) future makes at
    /// its first poll. One table, and none when either side is empty.
    pub(crate) fn overlaid(&self, top: &Context) -> Context {
        let Some(top_table) = &top.entries else {
            return self.clone();
        };
        if self.is_empty() {
            return top.clone();
        }
        let (old, new) = (self.entries(), top.entries());
        let mut header = self.header_copy(None);
        let over = &top_table.header.header;
        header.forks |= over.forks;
        header.replays |= over.replays;
        if let Some(trace) = &over.trace {
            header.trace = Some(trace.clone());
        }
        if let Some(id) = &over.request_id {
            header.request_id = Some(id.clone());
        }
        if let Some(budget) = &over.budget {
            header.budget = Some(Held::copy(budget, top));
        }
        let replaced = new.iter().filter(|e| position(old, e.key).is_ok()).count();
        let overlay = Overlay {
            old,
            new,
            len: old.len() + new.len() - replaced,
        };
        Context {
            entries: table(header, overlay),
        }
    }

    /// A context holding only a request's trace context and, if given, its
    /// request id and its budget (deadline and cancellation signal): the
    /// server layer's common case (an empty surrounding context, no
    /// baggage), built without the general merge. The three values live in
    /// the table's header; their entries only name their keys.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn of_request(
        trace: TraceContext,
        request_id: Option<RequestId>,
        budget: Option<Budget>,
    ) -> Context {
        let named = |key: &'static dyn ErasedKey| Item {
            key,
            value: Stored::InHeader,
        };
        let Some(budget) = budget else {
            // The commonest request: two entries, nothing to sort but them.
            let mut items = [named(&TRACE_CONTEXT), named(&REQUEST_ID)];
            let len = 1 + usize::from(request_id.is_some());
            if len == 2 && key_addr(&REQUEST_ID) < key_addr(&TRACE_CONTEXT) {
                items.swap(0, 1);
            }
            let header = Header {
                trace: Some(trace),
                request_id,
                ..Header::EMPTY
            };
            return Context {
                entries: table(header, items[..len].iter().cloned()),
            };
        };
        let mut items = [named(&TRACE_CONTEXT), named(&BUDGET), named(&REQUEST_ID)];
        let len = 2 + usize::from(request_id.is_some());
        // Sorted by key: an insertion sort of two or three.
        items[..len].sort_unstable_by_key(|i| key_addr(i.key));
        let header = Header {
            trace: Some(trace),
            request_id,
            budget: Some(Held::Own(budget)),
            ..Header::EMPTY
        };
        Context {
            entries: table(header, items[..len].iter().cloned()),
        }
    }

    /// Returns a new context without `key`. `self` is unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use ctx::{Context, Key};
    ///
    /// static TOKEN: Key<String> = Key::new("token");
    ///
    /// let cx = Context::new().with(&TOKEN, "secret".into());
    /// assert!(cx.without(&TOKEN).get(&TOKEN).is_none());
    /// assert!(cx.get(&TOKEN).is_some());
    /// ```
    #[must_use = "`without` returns a new context and leaves `self` unchanged"]
    pub fn without<T: Send + Sync + 'static>(&self, key: &'static Key<T>) -> Context {
        let entries = self.entries();
        match position(entries, key) {
            Err(_) => self.clone(),
            Ok(i) => Context {
                entries: table(
                    {
                        let mut header = self.header_copy(None);
                        header.forks &= others(entries, key, |k| k.forks());
                        header.replays &= others(entries, key, |k| k.replays());
                        if let Some(field) = HeaderField::of(key) {
                            header.clear(field);
                        }
                        header
                    },
                    Without {
                        before: entries[..i].iter(),
                        after: entries[i + 1..].iter(),
                    },
                ),
            },
        }
    }

    /// Returns the value stored under `key`, if any.
    ///
    /// A binary search over the values: no allocation, no reference count.
    pub fn get<T: Send + Sync + 'static>(&self, key: &'static Key<T>) -> Option<&T> {
        let entries = self.entries();
        let i = position(entries, key).ok()?;
        self.value_of(&entries[i])?.downcast_ref::<T>()
    }

    /// Returns `true` if a value is stored under `key`.
    pub fn contains<T: Send + Sync + 'static>(&self, key: &'static Key<T>) -> bool {
        position(self.entries(), key).is_ok()
    }

    /// Returns the number of values in the context.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Returns `true` if the context holds no value.
    pub fn is_empty(&self) -> bool {
        self.entries.is_none()
    }

    /// Returns `true` if both contexts are the same snapshot (the same
    /// allocation, or both empty). Cheap; it does not compare values.
    pub fn ptr_eq(&self, other: &Context) -> bool {
        match (&self.entries, &other.entries) {
            (None, None) => true,
            (Some(a), Some(b)) => std::ptr::eq(a.as_ptr(), b.as_ptr()),
            _ => false,
        }
    }

    /// The snapshot to hand to a child task: the same one, unless a key with
    /// a policy holds a value: values of a key with a fork policy
    /// ([`Key::with_fork`]) are forked, those of a local-only key
    /// ([`Key::local`]) left out. O(1) when no such key holds a value.
    pub(crate) fn fork(self) -> Context {
        if !self.forks() {
            return self;
        }
        // (The keys with a header field have no policy: the header's
        // values stay.) The fork functions are user code and may panic: they
        // run before the table is built, so a panic drops what was forked
        // (a table under construction would leak it).
        let forked: Vec<Item> = self
            .entries()
            .iter()
            .filter(|e| !e.key.is_local())
            .map(|e| Item {
                key: e.key,
                value: match self.value_of(e).and_then(|v| e.key.fork(v)) {
                    Some(v) => Stored::Shared(v),
                    None => e.value.clone(),
                },
            })
            .collect();
        let mut header = self.header_copy(None);
        // What is left may have no policy, or no replay function, any more.
        header.forks = forked.iter().any(|e| e.key.forks());
        header.replays = forked.iter().any(|e| e.key.replays());
        Context {
            entries: table(header, forked.into_iter()),
        }
    }

    fn forks(&self) -> bool {
        self.entries.as_ref().is_some_and(|t| t.header.header.forks)
    }

    /// Whether a key with a replay function ([`Key::with_replay`]) holds a
    /// value: then work run in this context runs inside [`replayed`](Self::replayed).
    #[inline]
    pub(crate) fn replays(&self) -> bool {
        REPLAYS_SEEN.load(Ordering::Relaxed)
            && self
                .entries
                .as_ref()
                .is_some_and(|t| t.header.header.replays)
    }

    /// Runs `f` inside the replay functions of this context's values, in
    /// key order (the first outermost).
    pub(crate) fn replayed<R>(&self, f: impl FnOnce() -> R) -> R {
        let mut f = Some(f);
        let mut out = None;
        // The work's panic is caught inside the replay functions and resumed
        // after them: they restore on a normal return, and one that would
        // catch the unwind cannot swallow it.
        self.nest(self.entries(), &mut || {
            if let Some(f) = f.take() {
                out = Some(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
            }
        });
        match out {
            Some(Ok(out)) => out,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            // Every replay function's `run` is called once, whatever the
            // function does (see `ErasedKey::replay`).
            None => unreachable!("a replay function skipped its work"),
        }
    }

    fn nest(&self, items: &[Item], run: &mut dyn FnMut()) {
        match items.iter().position(|e| e.key.replays()) {
            None => run(),
            Some(i) => {
                let rest = &items[i + 1..];
                match self.value_of(&items[i]) {
                    Some(value) => items[i].key.replay(value, &mut || self.nest(rest, run)),
                    None => self.nest(rest, run),
                }
            }
        }
    }

    /// A copy of this table's header (empty fields for the empty context),
    /// with the flags of `key`, about to be put in, added.
    fn header_copy(&self, key: Option<&'static dyn ErasedKey>) -> Header {
        let mut header = match &self.entries {
            Some(t) => t.header.header.copy(self),
            None => Header::EMPTY,
        };
        if let Some(key) = key {
            header.forks |= key.forks();
            header.replays |= key.replays();
        }
        header
    }

    /// The value of one of this context's items, to downcast.
    fn value_of<'a>(&'a self, item: &'a Item) -> Option<&'a (dyn Any + Send + Sync)> {
        match &item.value {
            Stored::Shared(v) => Some(&**v),
            Stored::InHeader => {
                let header = &self.entries.as_ref()?.header.header;
                header.get(HeaderField::of(item.key)?)
            }
        }
    }

    fn entries(&self) -> &[Item] {
        self.entries.as_ref().map_or(&[], |t| &t.slice)
    }
}

/// A scope inside a request reaches the request's signal through the
/// request's context.
#[cfg(feature = "cancel")]
impl crate::budget::Owner for Context {
    fn budget(&self) -> Option<&Budget> {
        self.get(&BUDGET)
    }

    fn clone_owner(&self) -> Box<dyn crate::budget::Owner> {
        Box::new(self.clone())
    }
}

/// The copy-on-write copy of a table with new entries merged in (a new entry
/// replaces the old one of its key), in key order, with an exact length so
/// that it is written in one allocation.
struct Merge<'a, const N: usize> {
    old: &'a [Item],
    new: [Option<Entry>; N],
    /// `new`'s indices in key order, `None`s last.
    order: [usize; N],
    next_new: usize,
    len: usize,
}

impl<const N: usize> Iterator for Merge<'_, N> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        let new_key = self
            .order
            .get(self.next_new)
            .and_then(|&i| self.new[i].as_ref())
            .map(|e| key_addr(e.item.key));
        let old_key = self.old.first().map(|e| key_addr(e.key));
        let take_new = match (old_key, new_key) {
            (Some(old), Some(new)) => {
                if old == new {
                    // Replaced: skip the old entry.
                    self.old = &self.old[1..];
                }
                new <= old
            }
            (Some(_), None) => false,
            (None, new) => new.is_some(),
        };
        let next = if take_new {
            let i = self.order[self.next_new];
            self.next_new += 1;
            self.new[i].take().map(|e| e.item)
        } else {
            let (first, rest) = self.old.split_first()?;
            self.old = rest;
            Some(first.clone())
        };
        self.len -= usize::from(next.is_some());
        next
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len, Some(self.len))
    }
}

impl<const N: usize> ExactSizeIterator for Merge<'_, N> {}

/// Two sorted tables merged, in key order, the second's entry winning
/// where both have a key ([`Context::overlaid`]).
struct Overlay<'a> {
    old: &'a [Item],
    new: &'a [Item],
    len: usize,
}

impl Iterator for Overlay<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        let take_new = match (self.old.first(), self.new.first()) {
            (Some(old), Some(new)) => {
                let (o, n) = (key_addr(old.key), key_addr(new.key));
                if o == n {
                    // Replaced: skip the old entry.
                    self.old = &self.old[1..];
                }
                n <= o
            }
            (Some(_), None) => false,
            (None, new) => new.is_some(),
        };
        let side = if take_new {
            &mut self.new
        } else {
            &mut self.old
        };
        let (first, rest) = side.split_first()?;
        *side = rest;
        self.len -= 1;
        Some(first.clone())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len, Some(self.len))
    }
}

impl ExactSizeIterator for Overlay<'_> {}

/// The copy-on-write copy of a table with one entry put in (or replaced):
/// the entries before its position, it, the entries after.
struct Splice<'a> {
    before: std::slice::Iter<'a, Item>,
    item: Option<Item>,
    after: std::slice::Iter<'a, Item>,
}

impl Iterator for Splice<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if let Some(e) = self.before.next() {
            return Some(e.clone());
        }
        self.item.take().or_else(|| self.after.next().cloned())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.before.len() + usize::from(self.item.is_some()) + self.after.len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for Splice<'_> {}

/// The copy-on-write copy of a table with one entry left out.
struct Without<'a> {
    before: std::slice::Iter<'a, Item>,
    after: std::slice::Iter<'a, Item>,
}

impl Iterator for Without<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        self.before.next().or_else(|| self.after.next()).cloned()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.before.len() + self.after.len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for Without<'_> {}

fn position(entries: &[Item], key: &'static dyn ErasedKey) -> Result<usize, usize> {
    let wanted = key_addr(key);
    entries.binary_search_by(|e| key_addr(e.key).cmp(&wanted))
}

impl fmt::Debug for Context {
    /// Shows the names of the keys that hold a value (values are not required
    /// to implement `Debug`, and may be secrets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Context")
            .field(&KeyNames(self.entries()))
            .finish()
    }
}

struct KeyNames<'a>(&'a [Item]);

impl fmt::Debug for KeyNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.0.iter().map(|e| e.key.name()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RequestId, TraceContext};
    use crate::value::{REQUEST_ID, TRACE_CONTEXT};

    static A: Key<u32> = Key::new("a");
    static B: Key<String> = Key::new("b");
    static C: Key<u8> = Key::new("c");
    static N: Key<u32> = Key::new("n");
    static LIST: Key<Vec<u8>> = Key::new("list").with_fork(|v| {
        let mut v = v.clone();
        v.push(0);
        v
    });

    #[test]
    fn with_entries_merges_in_one_snapshot() {
        let base = Context::new().with(&A, 1).with(&B, "b".to_string());
        // Unsorted, with a gap, replacing one key and adding another.
        let merged = base.with_entries([Some(Entry::new(&C, 3)), None, Some(Entry::new(&A, 10))]);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged.get(&A), Some(&10));
        assert_eq!(merged.get(&B).map(String::as_str), Some("b"));
        assert_eq!(merged.get(&C), Some(&3));
        // The base snapshot is untouched.
        assert_eq!(base.len(), 2);
        assert_eq!(base.get(&A), Some(&1));
        assert_eq!(base.get(&C), None);
        // Nothing to add: an equal table; into the empty context: just these.
        assert_eq!(base.with_entries::<1>([None]).len(), 2);
        let only = Context::new().with_entries([None, Some(Entry::new(&C, 4))]);
        assert_eq!((only.len(), only.get(&C)), (1, Some(&4)));
        // Keys stay sorted, so every later lookup still finds its value.
        let again = merged.with(&B, "c".into()).without(&A);
        assert_eq!(again.get(&B).map(String::as_str), Some("c"));
        assert_eq!(again.get(&C), Some(&3));
        assert_eq!(again.get(&A), None);
    }

    #[test]
    fn a_request_context_with_a_budget_is_the_general_one() {
        let trace = TraceContext::new_root();
        let id = RequestId::new("r-1").unwrap();
        let when = std::time::Instant::now();
        let deadline = |cx: &Context| cx.get(&BUDGET).map(|b| b.deadline);
        for request_id in [None, Some(id)] {
            let fast = Context::of_request(
                trace.clone(),
                request_id.clone(),
                Some(Budget::new(Some(when))),
            );
            let mut general = Context::new()
                .with(&TRACE_CONTEXT, trace.clone())
                .with(&BUDGET, Budget::new(Some(when)));
            if let Some(id) = &request_id {
                general = general.with(&REQUEST_ID, id.clone());
            }
            assert_eq!(deadline(&fast), Some(Some(when)));
            assert_eq!(deadline(&general), Some(Some(when)));
            assert_eq!(fast.get(&TRACE_CONTEXT), Some(&trace));
            assert_eq!(fast.get(&REQUEST_ID), request_id.as_ref());
            assert_eq!(fast.len(), general.len());
            assert_eq!(format!("{fast:?}"), format!("{general:?}"));
            let less = fast.without(&BUDGET).with(&B, "b".into());
            assert_eq!(deadline(&less), None);
            assert!(!less.contains(&BUDGET));
            assert_eq!(less.get(&TRACE_CONTEXT), Some(&trace));
            assert_eq!(deadline(&fast), Some(Some(when)), "the original keeps it");
        }
    }

    #[test]
    fn copies_of_a_table_share_its_budget_and_keep_it_alive() {
        let when = std::time::Instant::now();
        let owner = Context::new()
            .with(&A, 1)
            .with(&BUDGET, Budget::new(Some(when)));
        let copy = owner.with(&B, "b".into()).without(&A);
        let over = Context::new().with(&C, 3).overlaid(&copy);
        let again = over.with(&A, 2);
        for cx in [&copy, &over, &again] {
            let budget = cx.get(&BUDGET).unwrap();
            assert_eq!(budget.deadline, Some(when));
            if cfg!(feature = "cancel") {
                // One budget (its signal and token are one), not a copy.
                assert!(std::ptr::eq(budget, owner.get(&BUDGET).unwrap()));
            }
        }
        assert_eq!(over.get(&C), Some(&3));
        // A new budget replaces it in the new table only.
        let other = again.with(&BUDGET, Budget::new(None));
        assert_eq!(other.get(&BUDGET).unwrap().deadline, None);
        assert_eq!(again.get(&BUDGET).unwrap().deadline, Some(when));
        #[cfg(feature = "cancel")]
        {
            // The budget goes when the last table that holds it goes.
            let budget = owner.get(&BUDGET).unwrap();
            let token = budget
                .scope_token
                .get_or_init(tokio_util::sync::CancellationToken::new)
                .clone();
            drop((owner, copy, over, other));
            assert!(!token.is_cancelled(), "a copy still holds the budget");
            drop(again);
            assert!(token.is_cancelled(), "the budget was dropped");
        }
    }

    #[test]
    fn a_request_context_is_the_general_one() {
        let trace = TraceContext::new_root();
        let id = RequestId::new("r-1").unwrap();
        for request_id in [None, Some(id)] {
            let fast = Context::of_request(trace.clone(), request_id.clone(), None);
            let mut general = Context::new().with(&TRACE_CONTEXT, trace.clone());
            if let Some(id) = &request_id {
                general = general.with(&REQUEST_ID, id.clone());
            }
            assert_eq!(fast.get(&TRACE_CONTEXT), Some(&trace));
            assert_eq!(fast.get(&REQUEST_ID), request_id.as_ref());
            assert_eq!(fast.len(), general.len());
            assert_eq!(format!("{fast:?}"), format!("{general:?}"));
            // Later writes find the entries where the general path puts them.
            let more = fast.with(&A, 1).without(&TRACE_CONTEXT);
            assert_eq!(more.get(&TRACE_CONTEXT), None);
            assert_eq!(more.get(&REQUEST_ID), request_id.as_ref());
            assert_eq!(more.get(&A), Some(&1));
        }
    }

    #[test]
    fn a_panicking_fork_policy_leaks_nothing() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Counted;
        impl Drop for Counted {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::SeqCst);
            }
        }
        static C0: Key<Counted> = Key::new("c0");
        static C1: Key<Counted> = Key::new("c1");
        static C2: Key<Counted> = Key::new("c2");
        static BAD: Key<u32> = Key::new("bad").with_fork(|_| panic!("fork fails"));
        // The values copied before the failing key's are the ones at stake.
        let before = [&C0, &C1, &C2]
            .iter()
            .filter(|k| key_addr(**k) < key_addr(&BAD))
            .count();
        assert!(before > 0, "no value sorts before the failing key");

        let cx = Context::new()
            .with(&C0, Counted)
            .with(&C1, Counted)
            .with(&C2, Counted)
            .with(&BAD, 1);
        let forked = std::panic::catch_unwind(|| cx.clone().fork());
        assert!(forked.is_err());
        drop(cx);
        assert_eq!(DROPS.load(Ordering::SeqCst), 3, "every value dropped");
    }

    #[test]
    fn the_trace_context_survives_every_copy_of_the_table() {
        static OTHER: Key<TraceContext> = Key::new("other trace");
        static FORKED: Key<u32> = Key::new("forked").with_fork(|n| n + 1);

        let trace = TraceContext::new_root();
        let other = TraceContext::new_root();
        let cx = Context::new()
            .with(&A, 1)
            .with(&TRACE_CONTEXT, trace.clone())
            .with(&OTHER, other.clone());
        assert_eq!(cx.get(&TRACE_CONTEXT), Some(&trace));
        assert_eq!(cx.get(&OTHER), Some(&other));
        // Writes of other keys, before and after it in the table, keep it.
        let more = cx.with(&B, "b".into()).with(&C, 3).without(&A);
        assert_eq!(more.get(&TRACE_CONTEXT), Some(&trace));
        assert_eq!(more.get(&OTHER), Some(&other));
        // Replacing it replaces it; removing it removes it, not `OTHER`.
        let child = trace.child();
        let replaced = more.with(&TRACE_CONTEXT, child.clone());
        assert_eq!(replaced.get(&TRACE_CONTEXT), Some(&child));
        assert_eq!(more.get(&TRACE_CONTEXT), Some(&trace));
        let removed = replaced.without(&TRACE_CONTEXT);
        assert_eq!(removed.get(&TRACE_CONTEXT), None);
        assert_eq!(removed.get(&OTHER), Some(&other));
        assert_eq!(removed.len(), replaced.len() - 1);
        // A fork (a child task's snapshot) keeps it too.
        let forked = replaced.with(&FORKED, 1).fork();
        assert_eq!(forked.get(&FORKED), Some(&2));
        assert_eq!(forked.get(&TRACE_CONTEXT), Some(&child));
        // And a multi-value write sets it with the others.
        let multi = Context::new().with_entries([
            Some(Entry::new(&A, 5)),
            Some(Entry::new(&TRACE_CONTEXT, trace.clone())),
        ]);
        assert_eq!(
            (multi.get(&A), multi.get(&TRACE_CONTEXT)),
            (Some(&5), Some(&trace))
        );
        // The request id has a header field of its own: each of the two
        // can be removed without the other.
        let id = RequestId::new("req-7").unwrap();
        let both = multi.with(&REQUEST_ID, id.clone());
        let fields = |cx: &Context| {
            (
                cx.get(&TRACE_CONTEXT).cloned(),
                cx.get(&REQUEST_ID).cloned(),
            )
        };
        assert_eq!(fields(&both), (Some(trace.clone()), Some(id.clone())));
        assert_eq!(fields(&both.without(&REQUEST_ID)), (Some(trace), None));
        assert_eq!(fields(&both.without(&TRACE_CONTEXT)), (None, Some(id)));
    }

    #[test]
    fn overlaid_merges_two_tables_the_top_winning() {
        let trace = TraceContext::new_root();
        let id = RequestId::new("req-1").unwrap();
        let base = Context::new()
            .with(&A, 1)
            .with(&C, 3)
            .with(&REQUEST_ID, id.clone());
        let top = Context::new()
            .with(&A, 10)
            .with(&B, "b".into())
            .with(&TRACE_CONTEXT, trace.clone())
            .with(&LIST, vec![1]);
        let both = base.overlaid(&top);
        assert_eq!(both.len(), 6);
        assert_eq!(both.get(&A), Some(&10));
        assert_eq!(both.get(&B).map(String::as_str), Some("b"));
        assert_eq!(both.get(&C), Some(&3));
        assert_eq!(both.get(&TRACE_CONTEXT), Some(&trace));
        assert_eq!(both.get(&REQUEST_ID), Some(&id));
        // The top's policy flag came along: a child's copy forks.
        assert_eq!(both.clone().fork().get(&LIST), Some(&vec![1, 0]));
        // Either side empty: the other, shared.
        assert!(base.overlaid(&Context::new()).ptr_eq(&base));
        assert!(Context::new().overlaid(&top).ptr_eq(&top));
        // Neither input changed.
        assert_eq!((base.get(&A), base.len()), (Some(&1), 3));
    }

    #[test]
    fn fork_leaves_local_values_out_and_recomputes_the_flags() {
        static TX: Key<u32> = Key::local("tx");
        let cx = Context::new().with(&TX, 1).with(&N, 5);
        let child = cx.clone().fork();
        assert_eq!((child.get(&TX), child.get(&N)), (None, Some(&5)));
        assert_eq!(cx.get(&TX), Some(&1));
        // Nothing with a policy is left: the grandchild shares the child's.
        assert!(child.clone().fork().ptr_eq(&child));
        assert!(Context::new().with(&TX, 1).fork().is_empty());
    }

    #[test]
    fn empty_context_is_a_null_pointer() {
        assert_eq!(std::mem::size_of::<Context>(), std::mem::size_of::<usize>());
        assert!(Context::new().is_empty());
        assert_eq!(Context::new().len(), 0);
    }

    #[test]
    fn with_is_copy_on_write() {
        let one = Context::new().with(&A, 1);
        let two = one.with(&B, "b".into()).with(&A, 2);
        assert_eq!(one.get(&A), Some(&1));
        assert_eq!(one.get(&B), None);
        assert_eq!(two.get(&A), Some(&2));
        assert_eq!(two.get(&B).map(String::as_str), Some("b"));
        assert_eq!(two.len(), 2);
    }

    #[test]
    fn without_removes_only_in_the_copy() {
        let cx = Context::new().with(&A, 1).with(&C, 3);
        let less = cx.without(&A);
        assert_eq!(less.get(&A), None);
        assert_eq!(less.get(&C), Some(&3));
        assert_eq!(cx.get(&A), Some(&1));
        assert!(cx.without(&A).without(&C).is_empty());
        assert!(Context::new().without(&A).is_empty());
    }

    #[test]
    fn debug_shows_key_names() {
        let cx = Context::new().with(&A, 1).with(&B, "x".into());
        let s = format!("{cx:?}");
        assert!(s.contains("\"a\"") && s.contains("\"b\""), "{s}");
        assert!(!s.contains("\"x\""), "values are not printed: {s}");
    }

    #[test]
    fn ptr_eq_tells_snapshots_apart() {
        let cx = Context::new().with(&A, 1);
        assert!(cx.ptr_eq(&cx.clone()));
        assert!(!cx.ptr_eq(&Context::new().with(&A, 1)));
        assert!(Context::new().ptr_eq(&Context::default()));
    }

    #[test]
    fn fork_policy_applies_to_children_only() {
        let cx = Context::new().with(&LIST, vec![1]).with(&N, 5);
        let child = cx.clone().fork();
        assert_eq!(child.get(&LIST), Some(&vec![1, 0]));
        assert_eq!(child.get(&N), Some(&5));
        assert_eq!(cx.get(&LIST), Some(&vec![1]));
        // No forking key: the same snapshot is shared.
        let plain = Context::new().with(&N, 5);
        assert!(plain.clone().fork().ptr_eq(&plain));
    }

    #[test]
    fn same_name_different_statics_do_not_collide() {
        static X1: Key<u32> = Key::new("x");
        static X2: Key<u32> = Key::new("x");
        let cx = Context::new().with(&X1, 1).with(&X2, 2);
        assert_eq!(cx.get(&X1), Some(&1));
        assert_eq!(cx.get(&X2), Some(&2));
    }
}
