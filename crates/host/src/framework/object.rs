//! The WDF object tree's deletion order, as `FxObject::DeleteObject` runs
//! it (fxobjectstatemachine.cpp): `DisposeChildrenWorker` first disposes
//! every child (`PerformEarlyDispose`: the child's own `Dispose` override,
//! e.g. `FxTimer::Dispose`'s stop-and-wait, then its EvtCleanupCallback,
//! recursively), then the object's own `Dispose` and EvtCleanupCallback;
//! `DeletedAndDisposedWorkerLocked` → `DestroyChildren` then releases the
//! children (their EvtDestroyCallback) and finally the object itself (its
//! EvtDestroyCallback). So a control device's cleanup runs after its
//! children's cleanups and before any of them is destroyed, and its
//! destroy callback runs last — where the driver drops its device state.

use crate::sys::{RawMutex, Sys};
use std::sync::Arc;

/// An object callback: a `Dispose` override, EvtCleanupCallback or
/// EvtDestroyCallback.
pub type ObjectCallback = Box<dyn Fn() + Send + Sync>;

/// One WDF object with its children.
pub struct WdfObject<S: Sys> {
    dispose: Option<ObjectCallback>,
    cleanup: Option<ObjectCallback>,
    destroy: Option<ObjectCallback>,
    children: RawMutex<Vec<Arc<WdfObject<S>>>, S>,
}

impl<S: Sys> WdfObject<S> {
    /// An object with its `Dispose` override and its cleanup and destroy
    /// callbacks, each optional.
    pub fn new(
        dispose: Option<ObjectCallback>,
        cleanup: Option<ObjectCallback>,
        destroy: Option<ObjectCallback>,
    ) -> Arc<Self> {
        Arc::new(WdfObject {
            dispose,
            cleanup,
            destroy,
            children: RawMutex::new(Vec::new()),
        })
    }

    /// Parents `child` to this object (`WDF_OBJECT_ATTRIBUTES.ParentObject`).
    pub fn add_child(&self, child: Arc<WdfObject<S>>) {
        self.children.with(|c| c.push(child));
    }

    /// WdfObjectDelete: disposes the tree, then destroys it.
    pub fn delete(&self) {
        self.dispose_tree();
        self.destroy_tree();
    }

    fn dispose_tree(&self) {
        for child in self.children.with(|c| c.clone()) {
            child.dispose_tree();
        }
        for f in [&self.dispose, &self.cleanup].into_iter().flatten() {
            f();
        }
    }

    fn destroy_tree(&self) {
        for child in self.children.with(std::mem::take) {
            child.destroy_tree();
        }
        if let Some(f) = &self.destroy {
            f();
        }
    }
}
