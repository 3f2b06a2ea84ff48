package io.holdfast.ops.bench;

/** The bench's load threads: named, so that a thread dump of a stuck run says who is stuck. */
final class Workers {
  private Workers() {}

  static Thread start(String name, Runnable body) {
    Thread t = new Thread(body, name);
    t.start();
    return t;
  }
}
