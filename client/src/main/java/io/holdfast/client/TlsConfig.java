package io.holdfast.client;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * How the client reaches a cluster whose client port uses TLS: the CA that signed the servers'
 * certificates, and for mutual TLS this client's own certificate and key (all PEM files; the key
 * in PKCS#8). Servers' certificates must name the host dialled (hostnames are verified).
 *
 * @param ca the CA certificates to trust (PEM)
 * @param cert this client's certificate chain (PEM), or null without mutual TLS
 * @param key this client's private key (PEM, PKCS#8), or null without mutual TLS
 */
public record TlsConfig(Path ca, Path cert, Path key) {
  public TlsConfig {
    Objects.requireNonNull(ca, "ca");
    if ((cert == null) != (key == null)) {
      throw new IllegalArgumentException("a client certificate needs its key and a key its certificate");
    }
    for (Path p : new Path[] {ca, cert, key}) {
      if (p != null && !Files.isReadable(p)) {
        throw new IllegalArgumentException("TLS file " + p + " is not readable");
      }
    }
  }

  /** TLS that verifies the servers against {@code ca}, presenting no client certificate. */
  public static TlsConfig trusting(Path ca) {
    return new TlsConfig(ca, null, null);
  }

  /** Mutual TLS: verifies the servers against {@code ca} and presents {@code cert} and {@code key}. */
  public static TlsConfig fromPem(Path ca, Path cert, Path key) {
    return new TlsConfig(ca, Objects.requireNonNull(cert, "cert"), Objects.requireNonNull(key, "key"));
  }

  public boolean mutual() {
    return cert != null;
  }
}
