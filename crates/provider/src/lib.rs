//! An ND-style (NetworkDirect v2 SPI shaped) user API over the ndcm IOCTL ABI.
