//! `nv2`: the command-line front end; everything lives in [`nv2_client::cli`].

fn main() -> std::process::ExitCode {
    nv2_client::cli::main()
}
