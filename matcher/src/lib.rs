//! The matching engine: applicability, condition trees, three-valued evaluation, scoring and
//! reasons, and the reverse-path audience index. Pure and deterministic: no I/O, no clock.
