//! The syntax of Compose files, parsed once for every reader: `${VAR}` interpolation,
//! env files, image references, and what counts as a secret (its name) or as a weak
//! value. Config, scan, init and deploy all read these through here, so they cannot
//! disagree. A leaf: it imports nothing from the rest of the crate.

pub mod envfile;
pub mod imageref;
pub mod interp;
pub mod secrets;
