//! The `jetgate` binary: a thin shell over [`jetgate::cli`]. jemalloc is the global allocator
//! (see `docs/jemalloc.md` for the page-size setting on 64 KiB-page kernels).

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    jetgate::cli::main()
}
