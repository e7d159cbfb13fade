//! Saga.
