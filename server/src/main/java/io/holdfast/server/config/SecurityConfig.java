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
 */
public record SecurityConfig(TlsSettings clientTls, TlsSettings peerTls, Path tokenFile, CertIdentity certIdentity,
    List<AccessRule> acl, long clientCertConnectionMaxAgeMs) {
  public enum CertIdentity {
    CN, SAN
  }

  public SecurityConfig {
    acl = List.copyOf(acl);
  }

  /** Whether every caller must authenticate (a client certificate or a token). */
  public boolean authRequired() {
    return clientTls.mutual() || tokenFile != null;
  }
}
