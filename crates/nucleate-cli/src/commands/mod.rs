//! One module per subcommand (or family of subcommands).

pub mod aet;
pub mod barrier;
pub mod common;
pub mod imaging;
pub mod md;
pub mod nuclei;
pub mod order;
pub mod reactor;
pub mod structure;
pub mod study;
