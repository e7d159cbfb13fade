//! The soak's parts: the server as a child process, the load driver's HTTP client, the driver
//! itself, and the checks run on the exported log at the end.
#![allow(dead_code)]

pub mod api;
pub mod chaos;
pub mod checks;
pub mod driver;
pub mod outage;
pub mod server;
