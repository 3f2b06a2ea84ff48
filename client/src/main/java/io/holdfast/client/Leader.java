package io.holdfast.client;

/**
 * Who leads an election, as observers see it: the leader's announced value and its token, or
 * {@link #NONE} while nobody does.
 */
public record Leader(String value, long token, long sessionId) {
  public static final Leader NONE = new Leader("", 0, 0);

  public boolean present() {
    return token != 0;
  }
}
