"""mini-nixpkgs fetchurl: download $url to $out; Nix then checks its hash.

urllib follows redirects and honours http_proxy/https_proxy (CONNECT for
https). The server is verified against $SSL_CERT_FILE (or
$NIX_SSL_CERT_FILE) when one is given, as envtwin's proxy will give its CA;
without one, as nixpkgs' fetchurl with no CA bundle, TLS is not verified:
the output hash is what makes the download trustworthy.
"""

import os
import ssl
import sys
import time
import urllib.request

url = os.environ["url"]
out = os.environ["out"]
cafile = os.environ.get("SSL_CERT_FILE") or os.environ.get("NIX_SSL_CERT_FILE")
if cafile:
    context = ssl.create_default_context(cafile=cafile)
else:
    context = ssl._create_unverified_context()
opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
opener.addheaders = [("User-Agent", "mini-nixpkgs-fetchurl")]

for attempt in (1, 2, 3):
    try:
        with opener.open(url, timeout=60) as response, open(out, "wb") as f:
            while chunk := response.read(1 << 16):
                f.write(chunk)
        break
    except OSError as e:
        print(f"fetchurl: {url}: {e} (attempt {attempt} of 3)", file=sys.stderr)
        if os.path.exists(out):
            os.unlink(out)
        if attempt == 3:
            sys.exit(1)
        time.sleep(attempt)
