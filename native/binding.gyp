{
  "targets": [
    {
      "target_name": "tsshim",
      "sources": ["tsshim.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror=implicit-function-declaration", "-O2"],
      "cflags_c": ["-std=gnu11"],
      "libraries": ["-lpthread"]
    }
  ]
}
