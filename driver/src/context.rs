//! WDF object contexts and WDF structure sizes (the `WDF_*_INIT` inlines
//! bindgen does not emit). The framework zero-fills a context: every type
//! here is valid all-zero until its creator's `ptr::write`.

use core::mem::{MaybeUninit, size_of};

use ndcm_ndi::requests::{PendInfo, QueueOwner};
use wdk_sys::{
    _WDF_EXECUTION_LEVEL, _WDF_SYNCHRONIZATION_SCOPE, PCWDF_OBJECT_CONTEXT_TYPE_INFO, ULONG,
    WDF_DRIVER_CONFIG, WDF_FILEOBJECT_CONFIG, WDF_IO_QUEUE_CONFIG, WDF_OBJECT_ATTRIBUTES,
    WDF_OBJECT_CONTEXT_TYPE_INFO, WDF_TIMER_CONFIG, WDFDEVICE, WDFOBJECT,
    call_unsafe_wdf_function_binding,
};

use crate::device::{DeviceState, NdiFile};

/// `size_of::<T>()` as a WDF `Size` (`ULONG`), checked at compile time.
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

/// `WDF_OBJECT_ATTRIBUTES_INIT`: inherit level and scope (0 is *Invalid*).
#[must_use]
pub fn object_attributes() -> WDF_OBJECT_ATTRIBUTES {
    WDF_OBJECT_ATTRIBUTES {
        Size: WDF_OBJECT_ATTRIBUTES_SIZE,
        ExecutionLevel: _WDF_EXECUTION_LEVEL::WdfExecutionLevelInheritFromParent,
        SynchronizationScope: _WDF_SYNCHRONIZATION_SCOPE::WdfSynchronizationScopeInheritFromParent,
        ..WDF_OBJECT_ATTRIBUTES::default()
    }
}

/// `WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE`: with a typed context.
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

// SAFETY: never mutated after its constant initialisation; its pointers
// (name, `UniqueType`) point to statics: only immutable data is shared.
unsafe impl Sync for ContextTypeInfo {}

impl ContextTypeInfo {
    /// `WDF_GET_CONTEXT_TYPE_INFO`: the `UniqueType` the framework compares.
    #[must_use]
    pub const fn unique_type(&self) -> PCWDF_OBJECT_CONTEXT_TYPE_INFO {
        self.0.UniqueType
    }
}

/// `WDF_DECLARE_CONTEXT_TYPE`: the type-info static and a typed getter.
macro_rules! declare_context_type {
    ($info:ident, $ty:ty, $getter:ident) => {
        // SAFETY: `.data` is an ordinary writable data section; placing the
        // type info there matches the C macro and has no other effect.
        #[unsafe(link_section = ".data")]
        pub static $info: ContextTypeInfo = ContextTypeInfo(WDF_OBJECT_CONTEXT_TYPE_INFO {
            Size: WDF_OBJECT_CONTEXT_TYPE_INFO_SIZE,
            ContextName: concat!(stringify!($ty), "\0").as_ptr().cast(),
            ContextSize: size_of::<$ty>(),
            UniqueType: core::ptr::addr_of!($info).cast(),
            EvtDriverGetUniqueContextType: None,
        });

        /// The object's context of this type.
        /// # Safety
        /// `handle` is a live WDF object created with this context type; no
        /// two live `&mut` to the same context may be made.
        pub unsafe fn $getter(handle: WDFOBJECT) -> *mut $ty {
            // SAFETY: per the contract: a live handle with this context type.
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
    /// `None` until `create_control_device` finishes and once destroyed.
    pub state: Option<alloc::boxed::Box<DeviceState>>,
}
declare_context_type!(DEVICE_CONTEXT_TYPE_INFO, DeviceContext, device_context);

/// Context of the PnP device `root\ndcm`: the control device it owns.
pub struct PnpDeviceContext {
    /// The control device, or null.
    pub control_device: WDFDEVICE,
}
declare_context_type!(
    PNP_DEVICE_CONTEXT_TYPE_INFO,
    PnpDeviceContext,
    pnp_device_context
);

/// Context of a file object: one open = one ndcm-ndi instance.
pub struct FileContext {
    /// `None` before `EvtDeviceFileCreate` and after `EvtFileClose`.
    pub file: Option<alloc::sync::Arc<NdiFile>>,
}
declare_context_type!(FILE_CONTEXT_TYPE_INFO, FileContext, file_context);

/// Context of a per-connection (or per-listener, per-MAD-agent) manual queue.
#[derive(Clone, Copy)]
pub struct QueueContext {
    /// Whose queue this is, for the cancel entry point's lookup.
    pub owner: QueueOwner,
    /// The control device the queue belongs to (its parent).
    pub device: WDFDEVICE,
}
declare_context_type!(QUEUE_CONTEXT_TYPE_INFO, QueueContext, queue_context);

/// Context of every request: what it waits for (read only while queued).
#[derive(Clone, Copy)]
pub struct PendRecord {
    /// Set by `Requests::forward` before the request enters a manual queue.
    pub pended: bool,
    /// Valid when `pended`.
    pub info: MaybeUninit<PendInfo>,
}
declare_context_type!(REQUEST_CONTEXT_TYPE_INFO, PendRecord, request_context);
