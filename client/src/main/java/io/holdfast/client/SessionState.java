package io.holdfast.client;

/** What a {@link Session} knows about itself, published to {@link SessionListener}s. */
public enum SessionState {
  /** Open, and its keepalives are being acknowledged. */
  CONNECTED,
  /**
   * Keepalives have not been acknowledged lately (leader change, network trouble, a slow leader:
   * its late acknowledgements still count, and bring {@link #RECONNECTED}). The session
   * may still be alive; leases stay valid until {@link Session#validUntil()}, but do not start
   * anything long.
   */
  SUSPENDED,
  /** Acknowledgements resumed after {@link #SUSPENDED}, in time: nothing was lost. */
  RECONNECTED,
  /**
   * The session is gone, or its local deadline passed without an acknowledgement. Final. Every
   * lease is invalid; this is reported before the server can give any of its locks away.
   */
  EXPIRED,
  /** Closed by the application. Final. */
  CLOSED
}
