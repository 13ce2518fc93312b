//! `docker-generate`: the docker CLI plug-in (`docker generate …`); see `nv2_client::plugin`.

fn main() -> std::process::ExitCode {
    nv2_client::plugin::main()
}
