//! Integration tests of the template engine: template cases as data, the seed stacks, the shipped
//! stacks at the repository root, and a property test of the loader.

mod cases;
mod fuzz;
mod seed;
mod support;
