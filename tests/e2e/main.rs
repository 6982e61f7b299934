//! End-to-end tests of the HTTP API, each run against SQLite and against PostgreSQL.

mod access;
mod attributes;
mod authorization_matrix;
mod bad_input;
mod browser;
mod contacts;
mod explain;
mod fixtures;
mod hostile_input;
mod imports;
mod instances;
mod matching;
mod metrics;
mod my_policies;
mod pages;
mod personal_data;
mod policies;
mod portal;
mod profiles;
mod push;
mod search;
mod serving;
mod signin;
mod system;
mod tags;
mod vocabulary;
