package io.holdfast.server.statemachine;

import io.holdfast.server.state.HoldfastState;
import java.util.function.Function;

/** Reads the replicated state with apply excluded (the state machine; a plain state in tests). */
public interface StateReader {
  /** Runs {@code f} against the state under its lock; {@code f} must not keep references. */
  <T> T read(Function<HoldfastState, T> f);
}
