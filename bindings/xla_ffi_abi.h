// The XLA FFI C ABI (upstream header: xla/ffi/api/c_api.h of OpenXLA, which jaxlib ships; API
// version 0.3 as of jaxlib 0.10.2): only the structs, enums and functions that bindings/xla_ffi.cc
// uses, declared here so that building fastloss needs no jaxlib. The ABI is stable: every struct
// starts with its size (`struct_size`), fields are only ever appended, and a caller checks the
// size before reading a field, so these declarations stay valid for later XLA versions. Field
// order and types are copied from the upstream header; the trailing fields fastloss never reads
// are left out only where nothing after them is read either.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastloss::xla_ffi {

extern "C" {

constexpr int kApiMajor = 0;  // the upstream header's XLA_FFI_API_MAJOR / _MINOR at this copy
constexpr int kApiMinor = 3;

enum ExtensionType : int { kExtensionMetadata = 1 };  // XLA_FFI_Extension_Type

struct ExtensionBase {  // XLA_FFI_Extension_Base
  size_t struct_size;
  ExtensionType type;
  ExtensionBase* next;
};

struct ApiVersion {  // XLA_FFI_Api_Version
  size_t struct_size;
  ExtensionBase* extension_start;
  int major_version;
  int minor_version;
};

struct Error;  // XLA_FFI_Error: opaque, made by the Api's error_create

enum ErrorCode : int {  // XLA_FFI_Error_Code (the ones used here)
  kInvalidArgument = 3,
  kInternal = 13,
};

struct ErrorCreateArgs {  // XLA_FFI_Error_Create_Args
  size_t struct_size;
  ExtensionBase* extension_start;
  const char* message;  // copied by XLA
  ErrorCode errc;
};

enum DataType : int {  // XLA_FFI_DataType (the ones a loss may see)
  kPred = 1,
  kS8 = 2,
  kS16 = 3,
  kS32 = 4,
  kS64 = 5,
  kU8 = 6,
  kU16 = 7,
  kU32 = 8,
  kU64 = 9,
  kF16 = 10,
  kF32 = 11,
  kF64 = 12,
  kBF16 = 16,
};

struct Buffer {  // XLA_FFI_Buffer: a dense row-major array (ffi_call's default layout)
  size_t struct_size;
  ExtensionBase* extension_start;
  DataType dtype;
  void* data;
  int64_t rank;
  int64_t* dims;
};

enum ArgType : int { kArgBuffer = 1 };  // XLA_FFI_ArgType
enum RetType : int { kRetBuffer = 1 };  // XLA_FFI_RetType
enum AttrType : int { kAttrArray = 1, kAttrDictionary = 2, kAttrScalar = 3, kAttrString = 4 };

struct ByteSpan {  // XLA_FFI_ByteSpan (names and string attributes; not NUL-terminated)
  const char* ptr;
  size_t len;
};

struct Scalar {  // XLA_FFI_Scalar
  DataType dtype;
  void* value;
};

struct Array {  // XLA_FFI_Array
  DataType dtype;
  size_t size;
  void* data;
};

struct TypeId {  // XLA_FFI_TypeId
  int64_t type_id;
};

enum ExecutionStage : int {  // XLA_FFI_ExecutionStage
  kInstantiate = 0,
  kPrepare = 1,
  kInitialize = 2,
  kExecute = 3,
};

struct Args {  // XLA_FFI_Args
  size_t struct_size;
  ExtensionBase* extension_start;
  int64_t size;
  ArgType* types;
  void** args;  // each a Buffer*
};

struct Rets {  // XLA_FFI_Rets
  size_t struct_size;
  ExtensionBase* extension_start;
  int64_t size;
  RetType* types;
  void** rets;  // each a Buffer*
};

struct Attrs {  // XLA_FFI_Attrs
  size_t struct_size;
  ExtensionBase* extension_start;
  int64_t size;
  AttrType* types;
  ByteSpan** names;
  void** attrs;  // Scalar*, Array*, ByteSpan* by type
};

struct Api;  // below

struct CallFrame {  // XLA_FFI_CallFrame
  size_t struct_size;
  ExtensionBase* extension_start;
  const Api* api;
  void* ctx;  // XLA_FFI_ExecutionContext*
  ExecutionStage stage;
  Args args;
  Rets rets;
  Attrs attrs;
  void* future;  // out: XLA_FFI_Future*, left null (the handler completes synchronously)
};

using Handler = Error*(CallFrame* call_frame);  // XLA_FFI_Handler

typedef uint32_t HandlerTraits;  // XLA_FFI_Handler_Traits

// XLA_FFI_Metadata: what a handler reports when XLA calls it with the metadata extension.
struct Metadata {
  size_t struct_size;
  ApiVersion api_version;
  HandlerTraits traits;
  TypeId state_type_id;
};

struct MetadataExtension {  // XLA_FFI_Metadata_Extension
  ExtensionBase extension_base;
  Metadata* metadata;
};

// XLA_FFI_Api: a table of function pointers; only the first one (error creation) is called,
// the rest are declared as opaque pointers to keep the layout up to it.
using ErrorCreate = Error*(ErrorCreateArgs* args);

struct Api {
  size_t struct_size;
  ExtensionBase* extension_start;
  ApiVersion api_version;
  const void* internal_api;
  ErrorCreate* error_create;  // XLA_FFI_Error_Create
};

}  // extern "C"

// The size of a struct up to and including `last` (the upstream XLA_FFI_STRUCT_SIZE): what a
// producer of that ABI version writes into struct_size.
#define FL_XLA_FFI_STRUCT_SIZE(type, last) (offsetof(type, last) + sizeof(((type*)nullptr)->last))

}  // namespace fastloss::xla_ffi
