package io.holdfast.ops.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** Renders a command's result as an aligned table (for people) or JSON (for scripts). */
public final class Output {
  public enum Format { table, json }

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private Output() {}

  public static void json(PrintWriter out, Object value) {
    try {
      out.println(JSON.writeValueAsString(value));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot render JSON", e);
    }
  }

  /** Prints {@code rows} under {@code header}, each column as wide as its widest cell. */
  public static void table(PrintWriter out, List<String> header, List<List<String>> rows) {
    List<List<String>> all = new ArrayList<>();
    all.add(header);
    all.addAll(rows);
    int[] width = new int[header.size()];
    for (List<String> row : all) {
      for (int i = 0; i < row.size(); i++) {
        width[i] = Math.max(width[i], cell(row.get(i)).length());
      }
    }
    for (List<String> row : all) {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < row.size(); i++) {
        String c = cell(row.get(i));
        b.append(c);
        if (i < row.size() - 1) {
          b.append(" ".repeat(width[i] - c.length() + 2));
        }
      }
      out.println(b.toString().stripTrailing());
    }
    out.flush();
  }

  /** Table cells are single-line and printable, whatever a client put in its name or labels. */
  static String cell(String s) {
    if (s == null || s.isEmpty()) {
      return "-";
    }
    StringBuilder b = new StringBuilder();
    for (char c : s.toCharArray()) {
      b.append(c < 0x20 || c == 0x7f ? '?' : c);
    }
    return b.toString();
  }
}
