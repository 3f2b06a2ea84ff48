package io.holdfast.ops.cli;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;

/** Why a file could not be read or written, in words: NIO's messages are often the bare path. */
final class IoErrors {
  private IoErrors() {}

  static String reason(IOException e) {
    if (e instanceof NoSuchFileException) {
      return "no such file or directory";
    }
    if (e instanceof AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof FileSystemException f && f.getReason() != null) {
      return f.getReason();
    }
    if (e instanceof FileSystemException || e.getMessage() == null) {
      // Only a path, or nothing: the exception's name is all there is to say.
      return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : " " + e.getMessage());
    }
    return e.getMessage();
  }
}
