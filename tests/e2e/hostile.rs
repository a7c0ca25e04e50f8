//! Planted backup sets, local and on the real S3-compatible server: ccops reads them as
//! untrusted input and refuses them without writing outside its folders.
