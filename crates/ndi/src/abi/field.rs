//! Plain little-endian field access for the ABI structures.
//!
//! IOCTL buffers come from any process, so structures are never transmuted
//! from bytes: every field is read with a bounds-checked accessor at its
//! documented offset. This module owns those accessors and the layout tables
//! the C header is generated from. It must never panic on any input.

/// A field type that may appear in an ABI structure.
pub trait AbiField: Sized + Copy {
    /// Size in bytes.
    const SIZE: usize;
    /// The C type of one element (`uint32_t`, a struct name, …).
    const C_TYPE: &'static str;
    /// Number of elements when the field is a C array, else 0.
    const C_ARRAY: usize;
    /// Reads the field at `offset`; `None` if `bytes` is too short.
    fn read(bytes: &[u8], offset: usize) -> Option<Self>;
    /// Writes the field at `offset`; `false` (nothing written) if too short.
    fn write(&self, bytes: &mut [u8], offset: usize) -> bool;
}

/// The `N` bytes at `offset`, if present.
fn window<const N: usize>(bytes: &[u8], offset: usize) -> Option<[u8; N]> {
    let end = offset.checked_add(N)?;
    bytes.get(offset..end)?.try_into().ok()
}

/// Copies `src` to `offset`, if it fits.
fn put(bytes: &mut [u8], offset: usize, src: &[u8]) -> bool {
    let Some(end) = offset.checked_add(src.len()) else {
        return false;
    };
    match bytes.get_mut(offset..end) {
        Some(dst) => {
            dst.copy_from_slice(src);
            true
        }
        None => false,
    }
}

macro_rules! le_field {
    ($t:ty, $c:literal) => {
        impl AbiField for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            const C_TYPE: &'static str = $c;
            const C_ARRAY: usize = 0;
            fn read(bytes: &[u8], offset: usize) -> Option<Self> {
                window::<{ core::mem::size_of::<$t>() }>(bytes, offset).map(<$t>::from_le_bytes)
            }
            fn write(&self, bytes: &mut [u8], offset: usize) -> bool {
                put(bytes, offset, &self.to_le_bytes())
            }
        }
    };
}
le_field!(u8, "uint8_t");
le_field!(u16, "uint16_t");
le_field!(u32, "uint32_t");
le_field!(u64, "uint64_t");

impl<const N: usize> AbiField for [u8; N] {
    const SIZE: usize = N;
    const C_TYPE: &'static str = "uint8_t";
    const C_ARRAY: usize = N;
    fn read(bytes: &[u8], offset: usize) -> Option<Self> {
        window::<N>(bytes, offset)
    }
    fn write(&self, bytes: &mut [u8], offset: usize) -> bool {
        put(bytes, offset, self)
    }
}

/// One field of an ABI structure, for the generated C header and the docs.
#[derive(Clone, Copy, Debug)]
pub struct FieldLayout {
    /// Field name (the same in Rust and C).
    pub name: &'static str,
    /// C element type.
    pub c_type: &'static str,
    /// C array length, 0 for a scalar or struct.
    pub array: usize,
    /// Byte offset.
    pub offset: usize,
    /// Byte size.
    pub size: usize,
    /// What the field means.
    pub doc: &'static str,
}

/// One ABI structure, for the generated C header.
#[derive(Clone, Copy, Debug)]
pub struct StructLayout {
    /// Type name (the same in Rust and C).
    pub name: &'static str,
    /// Total size in bytes.
    pub size: usize,
    /// What the structure is for.
    pub doc: &'static str,
    /// Fields in offset order.
    pub fields: &'static [FieldLayout],
}

/// Declares a `#[repr(C)]` ABI structure with documented fields at explicit
/// offsets. The offsets, the total size and the absence of implicit padding
/// are asserted at compile time; `AbiField` gives plain byte read/write.
macro_rules! abi_struct {
    (
        $(#[doc = $sdoc:literal])*
        pub struct $name:ident [$size:literal] {
            $( $(#[doc = $fdoc:literal])* pub $f:ident : $t:ty = $off:literal, )*
        }
    ) => {
        $(#[doc = $sdoc])*
        #[doc = ""]
        #[doc = concat!("Size: ", stringify!($size), " bytes.")]
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name {
            $( $(#[doc = $fdoc])* #[doc = concat!("Offset ", stringify!($off), ".")] pub $f: $t, )*
        }

        const _: () = {
            assert!(core::mem::size_of::<$name>() == $size);
            // No implicit padding: the fields add up to the size.
            assert!(0 $(+ <$t as $crate::abi::field::AbiField>::SIZE)* == $size);
            $( assert!(core::mem::offset_of!($name, $f) == $off); )*
        };

        impl $name {
            /// Size of the structure in bytes.
            pub const SIZE: usize = $size;
            /// Field-by-field layout (generated C header, docs).
            pub const LAYOUT: $crate::abi::field::StructLayout = $crate::abi::field::StructLayout {
                name: stringify!($name),
                size: $size,
                doc: concat!($($sdoc, "\n",)*),
                fields: &[ $( $crate::abi::field::FieldLayout {
                    name: stringify!($f),
                    c_type: <$t as $crate::abi::field::AbiField>::C_TYPE,
                    array: <$t as $crate::abi::field::AbiField>::C_ARRAY,
                    offset: $off,
                    size: <$t as $crate::abi::field::AbiField>::SIZE,
                    doc: concat!($($fdoc, " ",)*),
                }, )* ],
            };

            /// Encodes into a fresh byte array.
            pub fn to_bytes(&self) -> [u8; $size] {
                let mut out = [0u8; $size];
                let _ = $crate::abi::field::AbiField::write(self, &mut out, 0);
                out
            }
        }

        impl $crate::abi::field::AbiField for $name {
            const SIZE: usize = $size;
            const C_TYPE: &'static str = stringify!($name);
            const C_ARRAY: usize = 0;
            fn read(bytes: &[u8], offset: usize) -> Option<Self> {
                // Bound the whole structure once so a short buffer never
                // yields a partially read value.
                let end = offset.checked_add($size)?;
                let bytes = bytes.get(offset..end)?;
                Some($name {
                    $( $f: <$t as $crate::abi::field::AbiField>::read(bytes, $off)?, )*
                })
            }
            fn write(&self, bytes: &mut [u8], offset: usize) -> bool {
                let Some(end) = offset.checked_add($size) else { return false };
                let Some(bytes) = bytes.get_mut(offset..end) else { return false };
                true $( && $crate::abi::field::AbiField::write(&self.$f, bytes, $off) )*
            }
        }
    };
}
pub(crate) use abi_struct;
