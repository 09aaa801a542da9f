//! Fault simulations of whole clusters. Built by the simulation issue, on top
//! of the real daemons' drive loops.

pub use sync_core as core_logic;
