# fetchurl { url; sha256 or hash; name ? baseNameOf url; }: a fixed-output
# derivation, as in nixpkgs. Nix checks the download against the hash, so
# only fixed-output derivations may reach the network; the proxy and CA
# variables pass through to them (impureEnvVars) and to nothing else.
{ pkgs }:

{ url
, sha256 ? ""
, hash ? ""
, name ? baseNameOf url
}:

if sha256 == "" && hash == "" then
  throw "fetchurl ${url}: give its sha256 (or an SRI hash); an unpinned download is not allowed"
else
  derivation {
    inherit name url;
    inherit (pkgs) system;
    builder = "${pkgs.python3}/bin/python3";
    args = [ ./fetch.py ];
    outputHashMode = "flat";
    outputHashAlgo = if hash != "" then null else "sha256";
    outputHash = if hash != "" then hash else sha256;
    impureEnvVars = [
      "http_proxy" "https_proxy" "HTTP_PROXY" "HTTPS_PROXY" "all_proxy" "ALL_PROXY"
      "no_proxy" "NO_PROXY" "SSL_CERT_FILE" "NIX_SSL_CERT_FILE"
    ];
    preferLocalBuild = true;
  }
