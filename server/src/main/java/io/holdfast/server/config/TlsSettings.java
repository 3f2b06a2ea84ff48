package io.holdfast.server.config;

import java.nio.file.Path;

/**
 * TLS for one port (the client API or Raft peer traffic), from PEM files that are re-read when they
 * change ({@code reloadIntervalMs}), so a rotated certificate needs no restart.
 *
 * @param mode plaintext (only when the config says so; the node warns), tls, or mtls (peers must
 *     present a certificate signed by {@code ca})
 * @param cert this node's certificate chain (PEM); null in plaintext mode
 * @param key its private key (PEM, PKCS#8); null in plaintext mode
 * @param ca the CA certificates this port trusts for the other side (PEM); null unless needed
 */
public record TlsSettings(Mode mode, Path cert, Path key, Path ca, long reloadIntervalMs) {
  public enum Mode {
    PLAINTEXT, TLS, MTLS
  }

  public boolean enabled() {
    return mode != Mode.PLAINTEXT;
  }

  public boolean mutual() {
    return mode == Mode.MTLS;
  }
}
