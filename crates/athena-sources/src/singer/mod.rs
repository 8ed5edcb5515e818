//! Singer taps as sources (`type = "singer"`), being built: the messages a tap writes
//! (`message`) and how a stream's records become events (`mapping`). The source that runs a
//! tap and commits its records with their STATE is not here yet.

pub mod mapping;
pub mod message;
