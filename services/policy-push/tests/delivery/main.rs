//! Delivery with the real binary on PostgreSQL, a real SMTP server the tests control and, where
//! it matters, a Redis server of their own: instances sharing work (`instances`), and the fault
//! suite (`faults`) that checks the delivery promise per recipient and address under crashes,
//! deploys, a lost database, a failing relay and Redis trouble; and a writer killed between its
//! commits and their effects (`crash`).

mod crash;
mod faults;
mod fleet;
mod instances;
