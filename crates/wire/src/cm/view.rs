//! The macro that turns a spec table into a zero-copy view.
//!
//! Every CM message view wraps the 232-byte CM body (MAD bytes 24–255) and
//! checks its length once in `new_checked`; the generated accessors then use
//! the panic-free helpers of `crate::bits`. It owns no layout itself: each
//! message file lists its fields with the spec's CM byte, bit and width.

macro_rules! cm_view {
    (
        $(#[$m:meta])*
        $name:ident {
            ints {
                $( $(#[$im:meta])* $get:ident, $set:ident : $ty:ty = $byte:expr, $bit:expr, $width:expr; )*
            }
            arrays {
                $( $(#[$am:meta])* $aget:ident, $aset:ident : [$n:expr] = $at:expr; )*
            }
            $( private_data: $pd_at:expr, $pd_len:expr; )?
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// Wraps `buffer` without checking its length; accessors of a
            /// short buffer read zeros and write nothing.
            pub const fn new_unchecked(buffer: T) -> Self {
                Self { buffer }
            }

            /// Wraps `buffer`, which must hold the 232-byte CM body.
            pub fn new_checked(buffer: T) -> $crate::Result<Self> {
                let got = buffer.as_ref().len();
                if got < $crate::mad::CM_BODY_SIZE {
                    return Err($crate::WireError::Truncated {
                        needed: $crate::mad::CM_BODY_SIZE,
                        got,
                    });
                }
                Ok(Self { buffer })
            }

            pub fn into_inner(self) -> T {
                self.buffer
            }

            $(
                $(#[$im])*
                #[inline]
                pub fn $get(&self) -> $ty {
                    $crate::bits::read(
                        self.buffer.as_ref(),
                        $crate::bits::Bits::new($byte, $bit, $width),
                    ) as $ty
                }
            )*

            $(
                $(#[$am])*
                #[inline]
                pub fn $aget(&self) -> [u8; $n] {
                    $crate::bits::array::<{ $n }>(self.buffer.as_ref(), $at)
                }
            )*

            $(
                /// The private data, at its full size.
                #[inline]
                pub fn private_data(&self) -> &[u8] {
                    self.buffer.as_ref().get($pd_at..$pd_at + $pd_len).unwrap_or(&[])
                }
            )?
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> $name<T> {
            /// Zeroes the whole body (reserved bits and unused private data
            /// must be 0 on the wire).
            pub fn clear(&mut self) {
                if let Some(body) = self.buffer.as_mut().get_mut(..$crate::mad::CM_BODY_SIZE) {
                    body.fill(0);
                }
            }

            $(
                #[inline]
                pub fn $set(&mut self, value: $ty) {
                    $crate::bits::write(
                        self.buffer.as_mut(),
                        $crate::bits::Bits::new($byte, $bit, $width),
                        u64::from(value),
                    )
                }
            )*

            $(
                #[inline]
                pub fn $aset(&mut self, value: &[u8; $n]) {
                    $crate::bits::put(self.buffer.as_mut(), $at, value)
                }
            )*

            $(
                /// The private data, writable, at its full size.
                #[inline]
                pub fn private_data_mut(&mut self) -> &mut [u8] {
                    self.buffer.as_mut().get_mut($pd_at..$pd_at + $pd_len).unwrap_or(&mut [])
                }

                /// Writes the private data at its full size.
                #[inline]
                pub fn set_private_data(&mut self, value: &[u8; $pd_len]) {
                    $crate::bits::put(self.buffer.as_mut(), $pd_at, value)
                }
            )?
        }
    };
}

pub(crate) use cm_view;
