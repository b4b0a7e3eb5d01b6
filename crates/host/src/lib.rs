//! The host platform for ndcm: everything the kernel provides, emulated with its rules enforced.
