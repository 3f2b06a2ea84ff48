package io.holdfast.client;

/** Receives a session's state changes, in order, on the client's executor. */
@FunctionalInterface
public interface SessionListener {
  void onStateChange(Session session, SessionState state);
}
