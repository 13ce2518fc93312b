//! Registry credentials as the docker CLI keeps them, so that `nv2 login` and `docker login` see
//! each other's logins: `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`) with
//! `auths` (base64 `user:password`), `credHelpers` (per registry) and `credsStore` (default
//! helper), the helpers being `docker-credential-<name> get|store|erase` programs. The lookup
//! order is docker's: `credHelpers`, then `credsStore`, then `auths`. Docker Hub is stored under
//! `https://index.docker.io/v1/`, as docker does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64ct::{Base64, Encoding};
use serde_json::{json, Map, Value};

use super::error::{Error, Result};

/// A user name and password (or identity token, with the user `<token>`).
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The key docker uses for a registry host in `config.json` and with helpers.
pub fn server_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            "https://index.docker.io/v1/".to_string()
        }
        other => other.to_string(),
    }
}

/// The docker configuration file.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    path: PathBuf,
}

impl DockerConfig {
    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub fn default_location() -> DockerConfig {
        let dir = std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let home = std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_default();
                home.join(".docker")
            });
        DockerConfig {
            path: dir.join("config.json"),
        }
    }

    /// A given file (`--registry-config FILE`).
    pub fn at(path: impl Into<PathBuf>) -> DockerConfig {
        DockerConfig { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<Map<String, Value>> {
        match std::fs::read(&self.path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(Value::Object(m)) => Ok(m),
                Ok(_) | Err(_) => Err(Error::Credentials(format!(
                    "{} is not a docker configuration (a JSON object)",
                    self.path.display()
                ))),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
            Err(e) => Err(Error::io(self.path.display(), e)),
        }
    }

    /// Writes the file as docker does (tab-indented JSON, mode 0600), atomically.
    fn write(&self, config: &Map<String, Value>) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
        let mut bytes = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut bytes, formatter);
        serde::Serialize::serialize(config, &mut ser)
            .map_err(|e| Error::Credentials(e.to_string()))?;
        let tmp = self.path.with_extension("json.nv2-tmp");
        let mut file = open_private(&tmp).map_err(|e| Error::io(tmp.display(), e))?;
        file.write_all(&bytes)
            .and_then(|_| file.sync_all())
            .map_err(|e| Error::io(tmp.display(), e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| Error::io(self.path.display(), e))
    }

    /// The helper that holds `registry`'s credentials, if any.
    fn helper(config: &Map<String, Value>, key: &str) -> Option<String> {
        config
            .get("credHelpers")
            .and_then(|h| h.get(key))
            .or_else(|| config.get("credsStore"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    /// The credential for `registry`, or `None` (anonymous).
    pub fn get(&self, registry: &str) -> Result<Option<Credential>> {
        let config = self.read()?;
        let key = server_key(registry);
        if let Some(helper) = Self::helper(&config, &key) {
            return helper_get(&helper, &key);
        }
        let Some(entry) = config.get("auths").and_then(|a| a.get(&key)) else {
            return Ok(None);
        };
        if let Some(token) = entry.get("identitytoken").and_then(Value::as_str) {
            if !token.is_empty() {
                return Ok(Some(Credential {
                    username: "<token>".into(),
                    password: token.into(),
                }));
            }
        }
        let Some(auth) = entry
            .get("auth")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        else {
            return Ok(None);
        };
        let decoded = Base64::decode_vec(auth)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                Error::Credentials(format!(
                    "{}: the auth of {key} is not base64 of user:password",
                    self.path.display()
                ))
            })?;
        let (username, password) = decoded.split_once(':').ok_or_else(|| {
            Error::Credentials(format!(
                "{}: the auth of {key} has no ':'",
                self.path.display()
            ))
        })?;
        Ok(Some(Credential {
            username: username.into(),
            password: password.into(),
        }))
    }

    /// Stores a login, in the helper when one is configured, else in `auths`.
    pub fn store(&self, registry: &str, credential: &Credential) -> Result<()> {
        let mut config = self.read()?;
        let key = server_key(registry);
        if let Some(helper) = Self::helper(&config, &key) {
            helper_run(
                &helper,
                "store",
                json!({"ServerURL": key, "Username": credential.username, "Secret": credential.password})
                    .to_string()
                    .as_bytes(),
            )?;
            // docker leaves an empty entry behind so that `docker info` lists the login.
            auths(&mut config).insert(key, json!({}));
        } else {
            let auth = Base64::encode_string(
                format!("{}:{}", credential.username, credential.password).as_bytes(),
            );
            auths(&mut config).insert(key, json!({ "auth": auth }));
        }
        self.write(&config)
    }

    /// Removes a login; `false` when there was none.
    pub fn erase(&self, registry: &str) -> Result<bool> {
        let mut config = self.read()?;
        let key = server_key(registry);
        let had = auths(&mut config).remove(&key).is_some();
        if let Some(helper) = Self::helper(&config, &key) {
            helper_run(&helper, "erase", key.as_bytes())?;
            self.write(&config)?;
            return Ok(true);
        }
        if had {
            self.write(&config)?;
        }
        Ok(had)
    }
}

fn auths(config: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let entry = config
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut().expect("an object")
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::create(path)
}

/// Runs `docker-credential-<helper> <verb>` with `input` on stdin; answers its stdout.
fn helper_run(helper: &str, verb: &str, input: &[u8]) -> Result<Vec<u8>> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Credentials(format!("cannot run {program}: {e}")))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input)
        .map_err(|e| Error::Credentials(format!("{program} {verb}: {e}")))?;
    let out = child
        .wait_with_output()
        .map_err(|e| Error::Credentials(format!("{program} {verb}: {e}")))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout).trim().to_string()
            + String::from_utf8_lossy(&out.stderr).trim();
        return Err(Error::Credentials(format!(
            "{program} {verb} failed ({}): {said}",
            out.status
        )));
    }
    Ok(out.stdout)
}

fn helper_get(helper: &str, key: &str) -> Result<Option<Credential>> {
    let program = format!("docker-credential-{helper}");
    let out = match helper_run(helper, "get", key.as_bytes()) {
        Ok(out) => out,
        // Helpers say "credentials not found in native keychain" with a failure status.
        Err(Error::Credentials(m)) if m.contains("not found") => return Ok(None),
        Err(e) => return Err(e),
    };
    let v: Value = serde_json::from_slice(&out)
        .map_err(|e| Error::Credentials(format!("{program} get answered no JSON: {e}")))?;
    let username = v["Username"].as_str().unwrap_or_default().to_string();
    let password = v["Secret"].as_str().unwrap_or_default().to_string();
    if username.is_empty() && password.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credential { username, password }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nv2-creds-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn auths_round_trip_and_keep_the_other_settings() {
        let dir = scratch("auths");
        let path = dir.join("config.json");
        std::fs::write(
            &path,
            r#"{"psFormat": "table {{.ID}}", "auths": {"other:1": {"auth": "dTpw"}}}"#,
        )
        .unwrap();
        let config = DockerConfig::at(&path);
        assert_eq!(config.get("localhost:5000").unwrap(), None);
        let cred = Credential {
            username: "alice".into(),
            password: "s3:cret".into(),
        };
        config.store("localhost:5000", &cred).unwrap();
        assert_eq!(config.get("localhost:5000").unwrap(), Some(cred));
        assert_eq!(
            config.get("other:1").unwrap().unwrap().username,
            "u",
            "other logins are kept"
        );
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["psFormat"], "table {{.ID}}");
        assert_eq!(v["auths"]["localhost:5000"]["auth"], "YWxpY2U6czM6Y3JldA==");
        assert!(String::from_utf8(std::fs::read(&path).unwrap())
            .unwrap()
            .contains("\n\t\""));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(config.erase("localhost:5000").unwrap());
        assert!(!config.erase("localhost:5000").unwrap());
        assert_eq!(config.get("localhost:5000").unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn docker_hub_has_docker_s_key_and_garbage_is_a_clear_error() {
        assert_eq!(server_key("docker.io"), "https://index.docker.io/v1/");
        assert_eq!(server_key("localhost:5000"), "localhost:5000");
        let dir = scratch("bad");
        let path = dir.join("config.json");
        std::fs::write(&path, "[1]").unwrap();
        let e = DockerConfig::at(&path).get("r").unwrap_err();
        assert!(e.to_string().contains("not a docker configuration"), "{e}");
        std::fs::write(&path, r#"{"auths": {"r": {"auth": "!!"}}}"#).unwrap();
        let e = DockerConfig::at(&path).get("r").unwrap_err();
        assert!(e.to_string().contains("not base64"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_credential_helper_is_asked_first() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("helper");
        // A helper that answers every get with one credential and records store/erase.
        let helper = dir.join("docker-credential-nv2test");
        std::fs::write(
            &helper,
            format!(
                "#!/bin/sh\nread input\ncase \"$1\" in\n get) echo '{{\"ServerURL\":\"'$input'\",\"Username\":\"bob\",\"Secret\":\"pw\"}}';;\n *) echo \"$1 $input\" >> {}/log;;\nesac\n",
                dir.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.join("config.json");
        std::fs::write(
            &path,
            r#"{"credHelpers": {"reg.test": "nv2test"}, "auths": {"reg.test": {"auth": "dTpw"}}}"#,
        )
        .unwrap();
        let old_path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![dir.clone()];
        paths.extend(std::env::split_paths(&old_path));
        // Only this test reads PATH for helpers; the others use no helper.
        std::env::set_var("PATH", std::env::join_paths(paths).unwrap());
        let config = DockerConfig::at(&path);
        let got = config.get("reg.test").unwrap().unwrap();
        assert_eq!(
            (got.username.as_str(), got.password.as_str()),
            ("bob", "pw")
        );
        assert!(config.erase("reg.test").unwrap());
        std::env::set_var("PATH", old_path);
        let log = std::fs::read_to_string(dir.join("log")).unwrap();
        assert!(log.contains("erase reg.test"), "{log}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
