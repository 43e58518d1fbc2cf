//! `blob ls | cat | cp | rm | stat`: see `connector_blob::cli`.
fn main() -> std::process::ExitCode {
    connector_blob::cli::main()
}
