//! WDF object contexts and WDF structure sizes.
//!
//! Owns the context type-info statics the framework needs to allocate a
//! typed context with an object (the C `WDF_DECLARE_CONTEXT_TYPE` macro), the
//! typed getters (`WdfObjectGetTypedContextWorker`), and the `Size` values of
//! the WDF configuration structures: the `WDF_*_INIT` helpers are C inlines
//! that bindgen does not emit (windows-drivers-rs issues #242, #330).
//!
//! The framework zero-fills a context when it creates the object. Every
//! context type here is therefore valid when all-zero (`Option<Box<_>>` is
//! `None`, `bool` is `false`, raw handles are null) and is given its real
//! value with `ptr::write` by the callback that creates the object.
//!
//! This module must never hand out a context of an object that may already
//! be deleted: callers pass handles the framework gave them for the duration
//! of a callback, or handles they hold a reference on.

use core::mem::{MaybeUninit, size_of};

use ndcm_ndi::requests::{PendInfo, QueueOwner};
use wdk_sys::{
    _WDF_EXECUTION_LEVEL, _WDF_SYNCHRONIZATION_SCOPE, PCWDF_OBJECT_CONTEXT_TYPE_INFO, ULONG,
    WDF_DRIVER_CONFIG, WDF_FILEOBJECT_CONFIG, WDF_IO_QUEUE_CONFIG, WDF_OBJECT_ATTRIBUTES,
    WDF_OBJECT_CONTEXT_TYPE_INFO, WDF_TIMER_CONFIG, WDFDEVICE, WDFOBJECT,
    call_unsafe_wdf_function_binding,
};

use crate::device::{DeviceState, NdiFile};

/// `size_of::<T>()` as the `ULONG` a WDF `Size` field takes; the check that
/// it fits runs at compile time.
macro_rules! wdf_size {
    ($t:ty) => {{
        const S: usize = size_of::<$t>();
        const { assert!(S <= ULONG::MAX as usize, "WDF structure larger than ULONG") };
        #[allow(clippy::cast_possible_truncation, reason = "asserted to fit above")]
        {
            S as ULONG
        }
    }};
}

pub const WDF_DRIVER_CONFIG_SIZE: ULONG = wdf_size!(WDF_DRIVER_CONFIG);
pub const WDF_OBJECT_ATTRIBUTES_SIZE: ULONG = wdf_size!(WDF_OBJECT_ATTRIBUTES);
pub const WDF_IO_QUEUE_CONFIG_SIZE: ULONG = wdf_size!(WDF_IO_QUEUE_CONFIG);
pub const WDF_FILEOBJECT_CONFIG_SIZE: ULONG = wdf_size!(WDF_FILEOBJECT_CONFIG);
pub const WDF_TIMER_CONFIG_SIZE: ULONG = wdf_size!(WDF_TIMER_CONFIG);
const WDF_OBJECT_CONTEXT_TYPE_INFO_SIZE: ULONG = wdf_size!(WDF_OBJECT_CONTEXT_TYPE_INFO);

/// `WDF_OBJECT_ATTRIBUTES_INIT`: inherit execution level and
/// synchronization scope (zero would be the *Invalid* values), no context.
#[must_use]
pub fn object_attributes() -> WDF_OBJECT_ATTRIBUTES {
    WDF_OBJECT_ATTRIBUTES {
        Size: WDF_OBJECT_ATTRIBUTES_SIZE,
        ExecutionLevel: _WDF_EXECUTION_LEVEL::WdfExecutionLevelInheritFromParent,
        SynchronizationScope: _WDF_SYNCHRONIZATION_SCOPE::WdfSynchronizationScopeInheritFromParent,
        ..WDF_OBJECT_ATTRIBUTES::default()
    }
}

/// `WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE`: [`object_attributes`] plus a
/// typed context.
#[must_use]
pub fn object_attributes_with(context: &'static ContextTypeInfo) -> WDF_OBJECT_ATTRIBUTES {
    WDF_OBJECT_ATTRIBUTES {
        ContextTypeInfo: context.unique_type(),
        ..object_attributes()
    }
}

/// A `WDF_OBJECT_CONTEXT_TYPE_INFO` that can live in a `static`.
#[repr(transparent)]
pub struct ContextTypeInfo(WDF_OBJECT_CONTEXT_TYPE_INFO);

// SAFETY: the value is never mutated after its constant initialisation, and
// its pointers (the name, `UniqueType`) point to statics, so sharing it
// between threads shares only immutable data.
unsafe impl Sync for ContextTypeInfo {}

impl ContextTypeInfo {
    const fn new(info: WDF_OBJECT_CONTEXT_TYPE_INFO) -> Self {
        Self(info)
    }

    /// `WDF_GET_CONTEXT_TYPE_INFO`: the type info's `UniqueType`, which is
    /// what the framework compares to find a context.
    #[must_use]
    pub const fn unique_type(&self) -> PCWDF_OBJECT_CONTEXT_TYPE_INFO {
        self.0.UniqueType
    }
}

/// Declares a context type: its type-info static (in `.data`, as the C
/// `WDF_DECLARE_CONTEXT_TYPE` does) and an unsafe typed getter.
macro_rules! declare_context_type {
    ($info:ident, $ty:ty, $getter:ident) => {
        // SAFETY: `.data` is an ordinary writable data section; placing the
        // type info there matches the C macro and has no other effect.
        #[unsafe(link_section = ".data")]
        pub static $info: ContextTypeInfo = ContextTypeInfo::new(WDF_OBJECT_CONTEXT_TYPE_INFO {
            Size: WDF_OBJECT_CONTEXT_TYPE_INFO_SIZE,
            ContextName: concat!(stringify!($ty), "\0").as_ptr().cast(),
            ContextSize: size_of::<$ty>(),
            UniqueType: core::ptr::addr_of!($info).cast(),
            EvtDriverGetUniqueContextType: None,
        });

        /// The object's context of this type.
        ///
        /// # Safety
        /// `handle` must be a live WDF object created with this context type
        /// (its attributes named this type info), and the caller must not
        /// create two live `&mut` to the same context.
        pub unsafe fn $getter(handle: WDFOBJECT) -> *mut $ty {
            // SAFETY: per this function's contract the handle is live and
            // carries this context type, so the framework returns its
            // context (never null for a matching type).
            unsafe {
                call_unsafe_wdf_function_binding!(
                    WdfObjectGetTypedContextWorker,
                    handle,
                    $info.unique_type(),
                )
            }
            .cast()
        }
    };
}

/// Context of the control device `\Device\ndcm`.
pub struct DeviceContext {
    /// The device-wide state; `None` until `device::create_control_device`
    /// finishes and after the device's cleanup callback.
    pub state: Option<alloc::boxed::Box<DeviceState>>,
}
declare_context_type!(DEVICE_CONTEXT_TYPE_INFO, DeviceContext, device_context);

/// Context of the root-enumerated PnP device (`root\ndcm`): the control
/// device it owns, deleted when the PnP device goes away.
pub struct PnpDeviceContext {
    /// The control device, or null.
    pub control_device: WDFDEVICE,
}
declare_context_type!(
    PNP_DEVICE_CONTEXT_TYPE_INFO,
    PnpDeviceContext,
    pnp_device_context
);

/// Context of a file object: one open of `\Device\ndcm` = one ndcm-ndi
/// instance.
pub struct FileContext {
    /// The driver's reference to the instance; `None` before
    /// `EvtDeviceFileCreate` and after `EvtFileClose`.
    pub file: Option<alloc::sync::Arc<NdiFile>>,
}
declare_context_type!(FILE_CONTEXT_TYPE_INFO, FileContext, file_context);

/// Context of a per-connection (or per-listener, per-MAD-agent) manual queue.
pub struct QueueContext {
    /// Whose queue this is, for the cancel entry point's lookup.
    pub owner: QueueOwner,
    /// The control device the queue belongs to (its parent).
    pub device: WDFDEVICE,
}
declare_context_type!(QUEUE_CONTEXT_TYPE_INFO, QueueContext, queue_context);

/// What a pended request waits for: written by its owner before it enters
/// a manual queue, read (never written) while it is queued.
#[derive(Clone, Copy)]
pub struct PendRecord {
    /// Set by `Requests::forward` before the request enters a manual queue.
    pub pended: bool,
    /// Valid when `pended`.
    pub info: MaybeUninit<PendInfo>,
}

/// Context of every request of the control device
/// (`WdfDeviceInitSetRequestAttributes`).
pub struct RequestContext {
    /// What the request waits for while queued.
    pub record: PendRecord,
}
declare_context_type!(REQUEST_CONTEXT_TYPE_INFO, RequestContext, request_context);
