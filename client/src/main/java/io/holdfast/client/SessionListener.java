package io.holdfast.client;

/**
 * Receives a session's state changes, in order, on the client's executor
 * ({@link HoldfastClient.Builder#executor}): one at a time per session, even when that executor
 * has several threads. An exception the listener throws is logged and delivery goes on.
 */
@FunctionalInterface
public interface SessionListener {
  void onStateChange(Session session, SessionState state);
}
