//! User-namespace id maps: each build's inside uid/gid mapped to the one
//! invoking user, the same way for root and for an ordinary user.
//!
//! One id is mapped, to the invoker, so both twins can read what the invoker
//! can (a 0700 scenario directory, a 0600 input) and every file a build
//! writes belongs to the invoker on the host. Nothing else is mapped: a file
//! of another host user shows as `nobody` inside and gives no rights.

use std::io::Write;

/// The maps one build gets: `inside` ids to the invoker's host ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub inside_uid: u32,
    pub inside_gid: u32,
    pub host_uid: u32,
    pub host_gid: u32,
}

impl IdMap {
    /// Map `inside` ids to the calling process's own effective ids.
    pub fn to_invoker(inside_uid: u32, inside_gid: u32) -> IdMap {
        IdMap {
            inside_uid,
            inside_gid,
            host_uid: nix::unistd::geteuid().as_raw(),
            host_gid: nix::unistd::getegid().as_raw(),
        }
    }

    /// The `uid_map` line.
    pub fn uid_line(&self) -> String {
        format!("{} {} 1\n", self.inside_uid, self.host_uid)
    }

    /// The `gid_map` line.
    pub fn gid_line(&self) -> String {
        format!("{} {} 1\n", self.inside_gid, self.host_gid)
    }

    /// Write this process's maps, right after `unshare(CLONE_NEWUSER)`.
    ///
    /// `setgroups` is denied first, as the kernel requires of an ordinary
    /// user, and for root too: one code path, and no build can drop a host
    /// group it was kept out of by a negative group permission.
    pub fn apply(&self) -> Result<(), String> {
        write_proc("/proc/self/setgroups", "deny")?;
        write_proc("/proc/self/uid_map", &self.uid_line())?;
        write_proc("/proc/self/gid_map", &self.gid_line())
    }
}

fn write_proc(path: &str, text: &str) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("writing {path}: {e}"))
}

/// Why user namespaces cannot be had here, with what to do about it, when
/// `unshare(CLONE_NEWUSER)` failed with `err`.
pub fn userns_unavailable_hint(err: nix::errno::Errno) -> String {
    let knob = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    let mut why = format!("cannot create a user namespace ({err})");
    if knob("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        why.push_str(
            "; unprivileged user namespaces are off: `sysctl -w kernel.unprivileged_userns_clone=1`",
        );
    } else if knob("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        why.push_str("; user.max_user_namespaces is 0: `sysctl -w user.max_user_namespaces=15000`");
    } else if knob("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1")
    {
        why.push_str("; AppArmor restricts unprivileged user namespaces: `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`");
    } else {
        why.push_str(
            "; in a container, allow the unshare(2) and mount(2) system calls \
             (Docker/Podman: `--security-opt seccomp=unconfined --security-opt apparmor=unconfined`)",
        );
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_id_maps_to_the_invoker() {
        let m = IdMap {
            inside_uid: 1000,
            inside_gid: 1000,
            host_uid: 4242,
            host_gid: 77,
        };
        assert_eq!(m.uid_line(), "1000 4242 1\n");
        assert_eq!(m.gid_line(), "1000 77 1\n");
    }

    #[test]
    fn to_invoker_takes_our_own_ids() {
        let m = IdMap::to_invoker(0, 0);
        assert_eq!(m.host_uid, nix::unistd::geteuid().as_raw());
        assert_eq!(m.host_gid, nix::unistd::getegid().as_raw());
    }
}
