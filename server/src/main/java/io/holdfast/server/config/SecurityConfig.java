package io.holdfast.server.config;

import io.holdfast.server.security.AccessRule;
import java.nio.file.Path;
import java.util.List;

/**
 * Transport security, authentication and authorization of one node.
 *
 * @param clientTls the client API port
 * @param peerTls Raft traffic between nodes (Ratis's gRPC transport, both directions)
 * @param tokenFile bearer tokens ({@code identity token} per line), or null for none
 * @param certIdentity which part of a client certificate names the caller: its CN or its first SAN
 * @param acl the rules; empty means everything is allowed (dev)
 * @param clientCertConnectionMaxAgeMs with client certificates (mtls), how long a client connection
 *     lives before the server asks the client to reconnect (0: for ever). A certificate is checked
 *     only at the handshake, so this bounds how long one whose CA was withdrawn keeps working.
 * @param statusPage who may read the admin port's status page ({@code /} and {@code /api/overview}),
 *     which shows every lock, holder and token without asking who is reading
 */
public record SecurityConfig(TlsSettings clientTls, TlsSettings peerTls, Path tokenFile, CertIdentity certIdentity,
    List<AccessRule> acl, long clientCertConnectionMaxAgeMs, StatusPage statusPage) {
  public enum CertIdentity {
    CN, SAN
  }

  /**
   * The status page's audience ({@code admin-status-page}): everyone, callers on this host only (an
   * SSH tunnel's end among them), or nobody.
   */
  public enum StatusPage {
    OPEN, LOCAL, OFF;

    /** Whether a caller from {@code remote} is served the page. */
    public boolean serves(java.net.InetAddress remote) {
      return switch (this) {
        case OPEN -> true;
        case LOCAL -> remote != null && (remote.isLoopbackAddress() || ownAddress(remote));
        case OFF -> false;
      };
    }

    private static boolean ownAddress(java.net.InetAddress a) {
      try {
        return java.net.NetworkInterface.getByInetAddress(a) != null;
      } catch (java.net.SocketException e) {
        return false;
      }
    }
  }

  public SecurityConfig {
    acl = List.copyOf(acl);
  }

  /** Whether every caller must authenticate (a client certificate or a token). */
  public boolean authRequired() {
    return clientTls.mutual() || tokenFile != null;
  }
}
