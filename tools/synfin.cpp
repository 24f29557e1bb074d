// The `synfin` command line.
#include <cstdio>
#include <string_view>

int main(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) == "--help") {
    std::puts("usage: synfin <command> [options]\n\ncommands:\n  demo   walk through the life of a connection");
    return argc < 2 ? 2 : 0;
  }
  return 0;
}
