//! Resolving an app's user and group against a root of its own: names in
//! its `/etc/passwd` and `/etc/group`, numbers, owners of paths, and the
//! ways a hostile image could try to mislead or stall podinit.
//!
//! Tests that chown files need root; they fail with a message saying so.

use std::fs;
use std::os::unix::fs::{chown, symlink};
use std::path::{Path, PathBuf};

use podinit_supervisor::credentials::{
    CredentialError, Credentials, IdKind, MAX_DATABASE_BYTES, resolve,
};

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                      web:x:33:33:www:/var/www:/usr/sbin/nologin\n\
                      alice:x:1000:1000:Alice:/home/alice:/bin/sh\n";
const GROUP: &str = "root:x:0:\nwww:x:34:web\nstaff:x:50:alice,web\n";

/// A directory removed when dropped, holding one test's root.
struct Root(PathBuf);

impl Root {
    fn new(tag: &str) -> Root {
        let path =
            std::env::temp_dir().join(format!("podinit-credentials-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(path.join("etc")).expect("create the test root");
        Root(path)
    }

    fn with_databases(tag: &str) -> Root {
        let root = Root::new(tag);
        root.write("etc/passwd", PASSWD);
        root.write("etc/group", GROUP);
        root
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.0.join(relative);
        fs::create_dir_all(path.parent().expect("a parent")).expect("create parents");
        fs::write(path, text).expect("write a test file");
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "these tests chown files: run them as root"
    );
}

fn ids(root: &Root, user: &str, group: &str) -> Result<(u32, u32), CredentialError> {
    resolve(root.path(), user, group, &[]).map(|c| (c.uid, c.gid))
}

#[test]
fn names_are_looked_up_in_the_apps_own_databases() {
    let root = Root::with_databases("names");
    assert_eq!(ids(&root, "web", "www").unwrap(), (33, 34));
    assert_eq!(ids(&root, "alice", "staff").unwrap(), (1000, 50));
    assert_eq!(ids(&root, "root", "root").unwrap(), (0, 0));
}

#[test]
fn supplementary_gids_are_used_as_given_even_for_a_named_user() {
    let root = Root::with_databases("supplementary");
    // alice is listed in `staff` in /etc/group; appc's list is explicit, so
    // that membership is not added.
    let creds = resolve(root.path(), "alice", "1000", &[7, 3, 7]).unwrap();
    assert_eq!(
        creds,
        Credentials {
            uid: 1000,
            gid: 1000,
            supplementary: vec![7, 3, 7],
        }
    );
    assert!(
        resolve(root.path(), "alice", "0", &[])
            .unwrap()
            .supplementary
            .is_empty()
    );
}

#[test]
fn numbers_resolve_without_any_database() {
    let root = Root::new("numbers");
    assert_eq!(ids(&root, "0", "0").unwrap(), (0, 0));
    assert_eq!(ids(&root, "1234", "005678").unwrap(), (1234, 5678));
    assert_eq!(ids(&root, "4294967294", "0").unwrap(), (4294967294, 0));
}

#[test]
fn a_name_made_of_digits_is_looked_up_first() {
    // The contract's order: the database, then the number.
    let root = Root::new("digit-names");
    root.write("etc/passwd", "1234:x:77:77::/:/bin/sh\n");
    root.write("etc/group", "5678:x:88:\n");
    assert_eq!(ids(&root, "1234", "5678").unwrap(), (77, 88));
}

#[test]
fn an_unknown_user_is_an_error_naming_the_file() {
    let root = Root::with_databases("unknown-user");
    let err = ids(&root, "mallory", "0").unwrap_err();
    let passwd = root.path().join("etc/passwd");
    assert_eq!(
        err.to_string(),
        format!(
            "user \"mallory\": not in {} and not a number",
            passwd.display()
        )
    );
    assert_eq!(err.wanted().kind, IdKind::User);
}

#[test]
fn an_unknown_group_is_an_error_naming_the_file() {
    let root = Root::with_databases("unknown-group");
    let err = ids(&root, "web", "wheel").unwrap_err();
    let group = root.path().join("etc/group");
    assert_eq!(
        err.to_string(),
        format!(
            "group \"wheel\": not in {} and not a number",
            group.display()
        )
    );
}

#[test]
fn a_name_in_a_root_without_databases_says_the_file_is_missing() {
    let root = Root::new("missing");
    let err = ids(&root, "web", "0").unwrap_err();
    let passwd = root.path().join("etc/passwd");
    assert_eq!(
        err.to_string(),
        format!(
            "user \"web\": not a number, and {} does not exist",
            passwd.display()
        )
    );
    assert!(matches!(
        err,
        CredentialError::NotFound {
            file_missing: true,
            ..
        }
    ));
}

#[test]
fn signs_spaces_and_minus_one_are_not_numbers() {
    let root = Root::new("not-numbers");
    for user in ["-1", "+5", " 5", "5 ", "0x10", "99999999999", ""] {
        let err = ids(&root, user, "0").unwrap_err();
        assert!(
            matches!(err, CredentialError::NotFound { .. }),
            "{user:?}: {err}"
        );
    }
    let err = ids(&root, "4294967295", "0").unwrap_err();
    assert!(matches!(err, CredentialError::ReservedId { .. }), "{err}");
    let err = resolve(root.path(), "0", "0", &[5, u32::MAX]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "supplementary group \"4294967295\": 4294967295 is (uid_t)-1, not an id"
    );
}

#[test]
fn malformed_lines_are_skipped_not_fatal() {
    let root = Root::new("malformed");
    let long = "x".repeat(1 << 20);
    let passwd = format!(
        "# a comment\n\n{long}\nweb\nweb:x\nweb:x:abc:1::/:/bin/sh\nweb:x::1::/:/bin/sh\n\
         web:x:-1:1::/:/bin/sh\n+web:x:5:5::/:/bin/sh\n:x:6:6::/:/bin/sh\nweb:{long}:7\n\
         web:x:33:33::/:/bin/sh\n"
    );
    root.write("etc/passwd", &passwd);
    root.write("etc/group", "www\nwww:x\nwww:x:zz:\nwww:x:34:\n");
    assert_eq!(ids(&root, "web", "www").unwrap(), (33, 34));
}

#[test]
fn a_path_resolves_to_its_owner_and_group() {
    require_root();
    let root = Root::new("path-owner");
    root.write("srv/data/file", "");
    chown(root.path().join("srv/data/file"), Some(4242), Some(4343)).unwrap();
    chown(root.path().join("srv"), Some(11), Some(12)).unwrap();
    assert_eq!(
        ids(&root, "/srv/data/file", "/srv/data/file").unwrap(),
        (4242, 4343)
    );
    assert_eq!(ids(&root, "/srv", "/srv/data/file").unwrap(), (11, 4343));
}

#[test]
fn a_missing_path_is_an_error() {
    let root = Root::new("path-missing");
    let err = ids(&root, "/srv/none", "0").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "user \"/srv/none\": failed to open it inside {}: ",
            root.path().display()
        )),
        "{text}"
    );
}

#[test]
fn links_are_resolved_inside_the_root_never_outside() {
    require_root();
    let outside = Root::new("outside");
    outside.write("passwd", "evil:x:4321:4321::/:/bin/sh\n");
    outside.write("owned", "");
    chown(outside.path().join("owned"), Some(4321), Some(4321)).unwrap();

    // Absolute and climbing links from inside the root to a host file.
    let root = Root::new("escape");
    let host_passwd = outside.path().join("passwd");
    symlink(&host_passwd, root.path().join("etc/passwd")).unwrap();
    symlink(
        "../../../../../../../../../..".to_owned() + &host_passwd.display().to_string(),
        root.path().join("etc/group"),
    )
    .unwrap();
    symlink(outside.path().join("owned"), root.path().join("owned")).unwrap();
    assert!(matches!(
        ids(&root, "evil", "0").unwrap_err(),
        CredentialError::NotFound {
            file_missing: true,
            ..
        }
    ));
    assert!(matches!(
        ids(&root, "0", "evil").unwrap_err(),
        CredentialError::NotFound {
            file_missing: true,
            ..
        }
    ));
    assert!(matches!(
        ids(&root, "/owned", "0").unwrap_err(),
        CredentialError::PathOwner { .. }
    ));
    assert!(matches!(
        ids(&root, "/etc/../../../owned", "0").unwrap_err(),
        CredentialError::PathOwner { .. }
    ));
}

#[test]
fn an_absolute_link_within_the_root_is_followed_as_the_app_sees_it() {
    let root = Root::new("inner-link");
    root.write("usr/share/base/passwd", PASSWD);
    symlink("/usr/share/base/passwd", root.path().join("etc/passwd")).unwrap();
    assert_eq!(ids(&root, "web", "0").unwrap(), (33, 0));
}

#[test]
fn a_fifo_database_is_refused_without_blocking() {
    let root = Root::new("fifo");
    let passwd = root.path().join("etc/passwd");
    nix::unistd::mkfifo(&passwd, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let err = ids(&root, "web", "0").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("user \"web\": {} is not a regular file", passwd.display())
    );
}

#[test]
fn a_device_node_database_is_refused() {
    require_root();
    let root = Root::new("device-db");
    let passwd = root.path().join("etc/passwd");
    let kind = nix::sys::stat::SFlag::S_IFCHR;
    let mode = nix::sys::stat::Mode::from_bits_truncate(0o644);
    // 1:3 is /dev/null: harmless even if it were opened.
    nix::sys::stat::mknod(&passwd, kind, mode, nix::sys::stat::makedev(1, 3)).unwrap();
    let err = ids(&root, "web", "0").unwrap_err();
    assert!(
        matches!(err, CredentialError::NotRegularFile { .. }),
        "{err}"
    );
}

#[test]
fn a_directory_database_is_refused() {
    let root = Root::new("dir-db");
    fs::create_dir(root.path().join("etc/group")).unwrap();
    let err = ids(&root, "0", "www").unwrap_err();
    assert!(
        matches!(err, CredentialError::NotRegularFile { .. }),
        "{err}"
    );
}

#[test]
fn an_oversized_database_is_refused_with_its_limit() {
    let root = Root::new("huge");
    let passwd = root.path().join("etc/passwd");
    let file = fs::File::create(&passwd).unwrap();
    file.set_len(MAX_DATABASE_BYTES + 1).unwrap();
    let err = ids(&root, "web", "0").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("user \"web\": {} is larger than 4 MiB", passwd.display())
    );
    // Exactly at the limit is read (and holds no entry).
    file.set_len(MAX_DATABASE_BYTES).unwrap();
    assert!(matches!(
        ids(&root, "web", "0").unwrap_err(),
        CredentialError::NotFound { .. }
    ));
}
