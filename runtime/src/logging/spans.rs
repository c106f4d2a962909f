//! The subscriber's span bookkeeping: the table of live spans (reference-counted, parents held
//! by their children) and the stack of spans entered on each thread.

use std::cell::RefCell;

use tracing::{span::Id, Metadata};

/// A live span.
pub(super) struct SpanData {
    /// The span's name, target and level.
    pub(super) metadata: &'static Metadata<'static>,
    /// Handles held: the span's own plus one per live child.
    pub(super) refs: usize,
    /// The enclosing span, if any.
    pub(super) parent: Option<Id>,
    /// Text format: the span's fields as `k=v k=v`.
    pub(super) fields: String,
    /// JSON format: the span's `requestId` field.
    pub(super) request_id: Option<String>,
}

/// The live spans, indexed by `Id - 1`; freed slots are reused.
#[derive(Default)]
pub(super) struct Spans {
    /// One slot per id ever handed out; `None` once freed.
    pub(super) slots: Vec<Option<SpanData>>,
    /// Freed slots, reused before the table grows.
    free: Vec<usize>,
}

impl Spans {
    /// The live span `id`.
    pub(super) fn get(&self, id: &Id) -> Option<&SpanData> {
        let index = usize::try_from(id.into_u64() - 1).ok()?;
        self.slots.get(index)?.as_ref()
    }

    /// The live span `id`, to change.
    pub(super) fn get_mut(&mut self, id: &Id) -> Option<&mut SpanData> {
        let index = usize::try_from(id.into_u64() - 1).ok()?;
        self.slots.get_mut(index)?.as_mut()
    }

    /// Stores a new span and returns its id.
    pub(super) fn insert(&mut self, data: SpanData) -> Id {
        let index = match self.free.pop() {
            Some(index) => {
                self.slots[index] = Some(data);
                index
            }
            None => {
                self.slots.push(Some(data));
                self.slots.len() - 1
            }
        };
        Id::from_u64(index as u64 + 1)
    }

    /// Drops one handle; frees the span (and, in turn, its parent's handle) at zero. Returns
    /// whether `id` itself was freed.
    pub(super) fn release(&mut self, id: &Id) -> bool {
        let mut next = Some(id.clone());
        let mut freed_first = false;
        let mut first = true;
        while let Some(id) = next.take() {
            let Some(span) = self.get_mut(&id) else { break };
            span.refs -= 1;
            if span.refs > 0 {
                break;
            }
            next = span.parent.take();
            // `get_mut` succeeded, so the index is valid.
            let index = (id.into_u64() - 1) as usize;
            self.slots[index] = None;
            self.free.push(index);
            freed_first |= first;
            first = false;
        }
        freed_first
    }
}

thread_local! {
    /// The spans entered on this thread, innermost last.
    pub(super) static ENTERED: RefCell<Vec<Id>> = const { RefCell::new(Vec::new()) };
}

/// The innermost span entered on this thread.
pub(super) fn current_id() -> Option<Id> {
    ENTERED.with(|entered| entered.borrow().last().cloned())
}
