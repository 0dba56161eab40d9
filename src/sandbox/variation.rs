//! The variations of SPEC §4: what build B changes relative to build A.

use serde::{Deserialize, Serialize};

/// One way build B differs from build A (names after reprotest's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variation {
    Hostname,
    Umask,
    Locale,
    Timezone,
    EnvOrder,
    Home,
    BuildPath,
    User,
    NumCpus,
    ExecPath,
    Time,
    Fileordering,
    Aslr,
    Kernel,
}

impl Variation {
    /// Every variation, in the order of SPEC §4.
    pub const ALL: [Variation; 14] = [
        Variation::Hostname,
        Variation::Umask,
        Variation::Locale,
        Variation::Timezone,
        Variation::EnvOrder,
        Variation::Home,
        Variation::BuildPath,
        Variation::User,
        Variation::NumCpus,
        Variation::ExecPath,
        Variation::Time,
        Variation::Fileordering,
        Variation::Aslr,
        Variation::Kernel,
    ];

    /// The name used in scenario files, on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Variation::Hostname => "hostname",
            Variation::Umask => "umask",
            Variation::Locale => "locale",
            Variation::Timezone => "timezone",
            Variation::EnvOrder => "env_order",
            Variation::Home => "home",
            Variation::BuildPath => "build_path",
            Variation::User => "user",
            Variation::NumCpus => "num_cpus",
            Variation::ExecPath => "exec_path",
            Variation::Time => "time",
            Variation::Fileordering => "fileordering",
            Variation::Aslr => "aslr",
            Variation::Kernel => "kernel",
        }
    }

    /// Parse a name; `Err` carries the closest known name, if any, for the message.
    pub fn parse(name: &str) -> Result<Variation, Option<&'static str>> {
        Variation::ALL
            .iter()
            .copied()
            .find(|v| v.name() == name)
            .ok_or_else(|| {
                Variation::ALL
                    .iter()
                    .map(|v| v.name())
                    .filter(|n| strsim::levenshtein(n, name) <= 3)
                    .min_by_key(|n| strsim::levenshtein(n, name))
            })
    }
}

impl std::fmt::Display for Variation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
