//===- codegen/EmitModule.cpp - a compiled model as one LLVM module -------===//
//
// One function per kernel, one function per entry point calling its kernels
// in order, and the `gradc_model` descriptor: a constant that mirrors
// GrtModel in runtime/include/gradrt/abi.h field by field.
//
//===----------------------------------------------------------------------===//
#include "codegen/EmitModule.h"

#include "codegen/EmitKernel.h"
#include "codegen/RebaseBuffers.h"
#include "codegen/Schedule.h"
#include "codegen/Target.h"
#include "ir/Optimizers.h"

#include "llvm/ADT/bit.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/Support/ErrorHandling.h"

#include <cstdint>
#include <functional>
#include <map>
#include <set>

#include "runtime/include/gradrt/abi.h"

namespace gradc {

namespace {

int roleOf(OpKind op) {
  switch (op) {
  case OpKind::Input: return GRT_INPUT;
  case OpKind::Param: return GRT_PARAM;
  case OpKind::State: return GRT_STATE;
  case OpKind::Gradient: return GRT_GRADIENT;
  default: return GRT_HYPER;
  }
}

int loopTypeCode(loops::Type t) {
  switch (t) {
  case loops::Type::F32: return GRT_F32;
  case loops::Type::F64: return GRT_F64;
  case loops::Type::I32: return GRT_I32;
  default: return GRT_BOOL;
  }
}

int dtypeCode(DType t) {
  switch (t) {
  case DType::F32: return GRT_F32;
  case DType::F64: return GRT_F64;
  case DType::I32: return GRT_I32;
  case DType::I1: return GRT_BOOL;
  }
  return GRT_F32;
}

/// GrtEntry.products: the dtypes of the runtime products (Stmt::Gemm) the
/// kernels call, at any depth (a slice group's products sit in its loop).
int32_t productDtypes(const std::vector<loops::Kernel> &kernels) {
  int32_t bits = 0;
  std::function<void(const loops::Kernel &, const std::vector<loops::Stmt> &)> walk =
      [&](const loops::Kernel &k, const std::vector<loops::Stmt> &body) {
        for (const loops::Stmt &s : body) {
          if (s.kind == loops::Stmt::Gemm)
            bits |= k.buffers[s.c.buffer].type == loops::Type::F64 ? GRT_PRODUCTS_F64 : GRT_PRODUCTS_F32;
          walk(k, s.body);
        }
      };
  for (const loops::Kernel &k : kernels) walk(k, k.body);
  return bits;
}

/// Every runtime tensor any graph names, each once: leaves by name, outputs
/// as "output:NAME". Ordered by role, then first appearance.
std::vector<SlotInfo> collectSlots(const Module &m) {
  std::vector<SlotInfo> slots;
  auto add = [&](SlotInfo s) {
    for (auto &x : slots)
      if (x.name == s.name) {
        if (x.type != s.type)
          llvm::report_fatal_error("internal error: tensor '" + llvm::Twine(s.name) + "' has two types");
        return;
      }
    slots.push_back(std::move(s));
  };
  // Index ranges over every graph, column by column: what every use
  // allows.
  std::map<std::string, std::vector<IndexRange>> ranges;
  for (auto &g : m.graphs) {
    auto users = g->users();
    for (auto &n : g->nodes) {
      if (!isRuntimeLeaf(n.get())) continue;
      std::string name = n->attrs.getString(AttrKey::Name).str();
      if (n->op == OpKind::Input && n->type.dtype == DType::I32) {
        std::vector<IndexRange> cols = indexRanges(*g, users, n.get());
        auto [it, fresh] = ranges.try_emplace(name, cols);
        if (!fresh)
          for (size_t c = 0; c < cols.size() && c < it->second.size(); ++c) it->second[c].intersect(cols[c]);
      }
      add({name, roleOf(n->op), n->type, n->attrs.getString(AttrKey::Init).str(), n->attrs.getFloat(AttrKey::Default)});
    }
    for (auto &o : g->outputs) add({grt::outputTensor(o.name), GRT_OUTPUT, o.value->type, "", 0});
  }
  // One range for the whole input when its columns agree (the usual
  // case), else one per column.
  for (auto &s : slots)
    if (auto it = ranges.find(s.name); it != ranges.end() && !it->second.empty()) {
      const std::vector<IndexRange> &cols = it->second;
      auto same = [&](const IndexRange &r) {
        return r.bounded() == cols[0].bounded() && (!r.bounded() || (r.low == cols[0].low && r.limit == cols[0].limit));
      };
      if (llvm::all_of(cols, same)) s.range = cols[0];
      else s.columnRanges = cols;
    }
  std::stable_sort(slots.begin(), slots.end(), [](const SlotInfo &a, const SlotInfo &b) { return a.role < b.role; });
  return slots;
}

std::string trainSummary(const Module &m) {
  std::string s = m.train.optimizer + "(";
  for (size_t i = 0; i < m.train.args.size(); ++i) {
    auto &[k, v] = m.train.args[i];
    s += (i ? ", " : "") + k + " = " + (std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : attrValueStr(v));
  }
  return s + ")";
}

class ModuleEmitter {
public:
  ModuleEmitter(const Module &m, const LoweredModel &lm, llvm::LLVMContext &ctx, const EmitOptions &opts)
      : m(m), lm(lm), ctx(ctx), opts(opts), mod(std::make_unique<llvm::Module>(m.name, ctx)), b(ctx) {}

  std::unique_ptr<llvm::Module> run() {
    for (size_t i = 0; i < lm.slots.size(); ++i) slotIndex[lm.slots[i].name] = i;
    collectShapes();
    std::vector<std::pair<const LoweredModel::Entry *, llvm::Function *>> entries;
    for (auto &e : lm.entries) entries.push_back({&e, emitEntry(e)});
    emitDescriptor(entries);
    return std::move(mod);
  }

private:
  /// A kernel's function, and for a shared one the constants it reads.
  struct KernelCode {
    llvm::Function *fn = nullptr;
    llvm::Constant *constants = nullptr; // a constantsType struct (EmitKernel.h)
  };

  /// EmitOptions::shareKernelsFrom. Each distinct kernel costs LLVM about
  /// 2-4 ms (the 2,261 kernels of a 250-step ODE with the step's time t in
  /// each, 1,026 distinct, took 4.0 s, and 1.2 s shared); a shared one
  /// reads only constants whose folding into the code changes nothing
  /// (SharedConstants.cpp). The layers of a network repeat their
  /// constants, so they are one kernel already and stay as they were.
  size_t shareFrom() const { return opts.shareKernelsFrom ? opts.shareKernelsFrom : SIZE_MAX; }
  unsigned tailLanes() const { return opts.foldTails ? hostFloatLanes() : 0; }

  /// What kernelFunction needs to know of a kernel before any is emitted.
  struct Shape {
    std::string exact; // the canonical text: equal kernels, one function
    std::string shape; // the text with constants as $n (LoopIR.h)
    std::vector<loops::ShapeConstant> constants;
  };
  std::map<const loops::Kernel *, Shape> shapes;
  /// Each shape's distinct kernels, in every entry, and which of its
  /// constants differ among them: only those are read from memory, the
  /// others (a 0.5 every step has) stay in the code.
  struct Variants {
    std::set<std::string> kernels;
    std::vector<double> first;
    std::vector<bool> varies;
  };
  std::map<std::string, Variants> variants;

  void collectShapes() {
    for (auto &e : lm.entries)
      for (auto &k : e.kernels) {
        Shape s;
        llvm::raw_string_ostream exact(s.exact), shape(s.shape);
        loops::print(k, exact, /*canonical=*/true);
        s.constants = loops::printShape(k, shape);
        if (!s.constants.empty()) {
          Variants &v = variants[s.shape];
          if (v.kernels.empty())
            for (const loops::ShapeConstant &c : s.constants) v.first.push_back(c.expr->value);
          v.varies.resize(s.constants.size());
          // By bits: -0.0 is not 0.0 (1/x tells them apart).
          for (size_t i = 0; i < s.constants.size(); ++i)
            if (llvm::bit_cast<uint64_t>(s.constants[i].expr->value) != llvm::bit_cast<uint64_t>(v.first[i])) v.varies[i] = true;
          v.kernels.insert(s.exact);
        }
        shapes[&k] = std::move(s);
      }
  }

  /// The function for a kernel: an existing one when another kernel has the
  /// same loops (a layer of a network repeats them), or the same loops but
  /// for constants when at least shareFrom() kernels do; else a new one.
  KernelCode kernelFunction(const loops::Kernel &k) {
    const Shape &s = shapes.at(&k);
    auto v = variants.find(s.shape);
    if (v == variants.end() || v->second.kernels.size() < shareFrom()) {
      auto it = byLoops.find(s.exact);
      if (it != byLoops.end()) return {it->second};
      return {byLoops[s.exact] = emitKernel(*mod, k, k.name, {}, tailLanes())};
    }
    std::vector<loops::ShapeConstant> varying;
    for (size_t i = 0; i < s.constants.size(); ++i)
      if (v->second.varies[i]) varying.push_back(s.constants[i]);
    auto [it, fresh] = byShape.try_emplace(s.shape);
    if (fresh) it->second = emitKernel(*mod, k, k.name, varying, tailLanes());
    llvm::Constant *&values = constantsOf[s.exact];
    if (!values) {
      llvm::StructType *ty = constantsType(ctx, varying);
      values = new llvm::GlobalVariable(*mod, ty, /*isConstant=*/true, llvm::GlobalValue::PrivateLinkage,
                                        constantsValue(ty, varying), k.name + ".constants");
    }
    return {it->second, values};
  }

  /// The index of the slot named `name` in the entry's `slots`.
  int slotOf(const std::string &name) const {
    auto it = slotIndex.find(name);
    if (it == slotIndex.end()) llvm::report_fatal_error("internal error: no slot named " + llvm::Twine(name));
    return it->second;
  }

  /// Where a kernel buffer's base pointer points, as a call table's
  /// GrtCallArg says it (GRT_ARG_ADDRESS: null).
  struct Base {
    GrtCallArgKind kind;
    int slot;
    int64_t offset; // bytes
  };
  Base baseOf(const loops::Buffer &buf) const {
    // A local buffer lives on the kernel's own stack (EmitKernel.cpp).
    if (buf.isLocal) return {GRT_ARG_ADDRESS, 0, 0};
    // A rebased buffer's kernel counts from its first element read.
    int64_t first = buf.first * loops::elementBytes(buf.type);
    if (!buf.isSlot) return {GRT_ARG_ARENA, 0, buf.offset + first};
    return {GRT_ARG_SLOT, slotOf(buf.slot), first};
  }

  /// The base pointer of a kernel buffer, computed in the entry function.
  llvm::Value *basePointer(const loops::Buffer &buf, llvm::Value *slots, llvm::Value *arena) {
    Base at = baseOf(buf);
    if (at.kind == GRT_ARG_ADDRESS) return llvm::ConstantPointerNull::get(b.getPtrTy());
    if (at.kind == GRT_ARG_ARENA) return b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), arena, at.offset, buf.name);
    llvm::Value *base = b.CreateAlignedLoad(b.getPtrTy(), b.CreateConstInBoundsGEP1_64(b.getPtrTy(), slots, at.slot),
                                            llvm::Align(8), buf.name);
    return at.offset ? b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), base, at.offset, buf.name) : base;
  }

  /// A kernel's iterations and each one's work, as a member of a group of
  /// parallel loops (GrtLoop): a serial kernel is one iteration with all
  /// its work.
  static std::pair<int64_t, int64_t> loopShape(const loops::Kernel &k) {
    int64_t n = k.parallelExtent > 0 ? k.parallelExtent : 1;
    return {n, std::max<int64_t>(1, (k.work + n - 1) / n)};
  }

  /// An entry calls its kernels in order. A long one (an unrolled loop's,
  /// EmitOptions::callTableFrom kernels or more) hands them to the runtime
  /// as a table (grt_run_calls): LLVM's code generation of its calls is
  /// what took the time (14 of 19 s for 40,000 kernels, even split into
  /// functions of 512 calls and unoptimised). The GPT's 358 kernels stay
  /// calls in code, which cost a tiny model's step nothing.
  llvm::Function *emitEntry(const LoweredModel::Entry &e) {
    std::vector<KernelCode> kernels;
    for (auto &k : e.kernels) kernels.push_back(kernelFunction(k));
    auto *ptr = b.getPtrTy();
    auto *fty = llvm::FunctionType::get(b.getVoidTy(), {ptr, ptr, ptr}, false);
    auto *fn = llvm::Function::Create(fty, llvm::Function::InternalLinkage, "gradc." + e.name, *mod);
    fn->addFnAttr(llvm::Attribute::NoUnwind);
    unoptimised(fn);
    if (opts.callTableFrom && kernels.size() >= opts.callTableFrom) emitCallTable(fn, e, kernels);
    else emitCalls(fn, e, kernels);
    return fn;
  }

  /// The body of a long entry: one grt_run_calls over a table of its
  /// kernels' calls, each with the arguments emitCalls would store.
  void emitCallTable(llvm::Function *fn, const LoweredModel::Entry &e, llvm::ArrayRef<KernelCode> kernels) {
    AbiTypes abi = abiTypes(ctx);
    auto *ptr = b.getPtrTy();
    llvm::Constant *null = llvm::ConstantPointerNull::get(ptr);
    std::vector<llvm::Constant *> calls, args;
    auto arg = [&](Base at, llvm::Constant *address) {
      args.push_back(llvm::ConstantStruct::get(abi.callArg, {i32(at.kind), i32(at.slot), i64(at.offset), address}));
    };
    for (size_t i = 0; i < e.kernels.size(); ++i) {
      const loops::Kernel &k = e.kernels[i];
      for (const loops::Buffer &buf : k.buffers) arg(baseOf(buf), null);
      arg({GRT_ARG_CONTEXT, 0, 0}, null);
      if (kernels[i].constants) arg({GRT_ARG_ADDRESS, 0, 0}, kernels[i].constants);
      calls.push_back(llvm::ConstantStruct::get(
          abi.call, {kernels[i].fn, i64(std::max<int64_t>(k.parallelExtent, 0)), i64(loopShape(k).second),
                     i32(i > 0 && k.joinsPrevious ? 1 : 0),
                     i32(int64_t(k.buffers.size()) + 1 + (kernels[i].constants ? 1 : 0))}));
    }
    auto table = [&](llvm::StructType *ty, llvm::ArrayRef<llvm::Constant *> items, const llvm::Twine &name) {
      auto *at = llvm::ArrayType::get(ty, items.size());
      return new llvm::GlobalVariable(*mod, at, true, llvm::GlobalValue::PrivateLinkage,
                                      llvm::ConstantArray::get(at, items), name);
    };
    auto runCalls = mod->getOrInsertFunction(
        "grt_run_calls", llvm::FunctionType::get(b.getVoidTy(), {ptr, ptr, ptr, b.getInt32Ty(), b.getInt32Ty(), ptr, ptr},
                                                 false));
    b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", fn));
    b.CreateCall(runCalls, {fn->getArg(2), fn->getArg(0), fn->getArg(1), b.getInt32(0), b.getInt32(int32_t(calls.size())),
                            table(abi.call, calls, e.name + ".calls"), table(abi.callArg, args, e.name + ".call_args")});
    b.CreateRetVoid();
  }

  /// An entry is a list of calls, one per kernel, that runs once a step:
  /// optimising it buys nothing measurable, and it cost a fifth of a GPT
  /// build (long straight-line functions). `optnone` has LLVM skip it and
  /// make its machine code the fast way.
  static void unoptimised(llvm::Function *fn) {
    fn->addFnAttr(llvm::Attribute::NoInline);
    fn->addFnAttr(llvm::Attribute::OptimizeNone);
  }

  /// The body of `fn`: a call of each kernel of `e`. A run of
  /// kernels grouped by codegen/LoopGroups.cpp is one call of
  /// grt_parallel_loops with a GrtLoop per kernel.
  void emitCalls(llvm::Function *fn, const LoweredModel::Entry &e, llvm::ArrayRef<KernelCode> kernels) {
    auto *ptr = b.getPtrTy();
    auto *i64t = b.getInt64Ty();
    b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", fn));
    // The calls, each a run [begin, end) of kernels: one kernel, or a group.
    std::vector<std::pair<size_t, size_t>> calls;
    for (size_t i = 0, last = kernels.size(); i < last;) {
      size_t end = i + 1;
      while (end < last && e.kernels[end].joinsPrevious) ++end;
      calls.push_back({i, end});
      i = end;
    }
    // Each call gets its kernels' buffers' base pointers, the context and
    // (a shared kernel) its constants in one argument array (a group: one
    // after the other), reused from call to call.
    size_t most = 1, mostLoops = 0;
    for (auto [begin, end] : calls) {
      size_t n = 0;
      for (size_t i = begin; i < end; ++i) n += e.kernels[i].buffers.size() + 1 + (kernels[i].constants ? 1 : 0);
      most = std::max(most, n);
      if (end - begin > 1) mostLoops = std::max(mostLoops, end - begin);
    }
    auto *argsTy = llvm::ArrayType::get(ptr, most);
    llvm::Value *args = b.CreateAlloca(argsTy, nullptr, "args");
    // GrtLoop (gradrt/abi.h): n, weight, body, data.
    auto *loopTy = llvm::StructType::get(ctx, {i64t, i64t, ptr, ptr});
    auto *loopsTy = llvm::ArrayType::get(loopTy, std::max<size_t>(mostLoops, 1));
    llvm::Value *loopArray = mostLoops ? b.CreateAlloca(loopsTy, nullptr, "loops") : nullptr;
    llvm::Value *slots = fn->getArg(0), *arena = fn->getArg(1), *rtctx = fn->getArg(2);
    auto parallelFor = mod->getOrInsertFunction(
        "grt_parallel_for", llvm::FunctionType::get(b.getVoidTy(), {ptr, i64t, ptr, ptr}, false));
    auto parallelLoops = mod->getOrInsertFunction(
        "grt_parallel_loops", llvm::FunctionType::get(b.getVoidTy(), {ptr, b.getInt32Ty(), ptr}, false));
    auto kernelEnd =
        mod->getOrInsertFunction("grt_kernel_end", llvm::FunctionType::get(b.getVoidTy(), {ptr, b.getInt32Ty()}, false));
    for (auto [begin, end] : calls) {
      unsigned at = 0;
      for (size_t i = begin; i < end; ++i) {
        const loops::Kernel &k = e.kernels[i];
        llvm::Value *kernelArgs = b.CreateConstInBoundsGEP2_32(argsTy, args, 0, at);
        for (size_t j = 0; j < k.buffers.size(); ++j)
          b.CreateStore(basePointer(k.buffers[j], slots, arena), b.CreateConstInBoundsGEP2_32(argsTy, args, 0, at++));
        b.CreateStore(rtctx, b.CreateConstInBoundsGEP2_32(argsTy, args, 0, at++));
        if (kernels[i].constants) b.CreateStore(kernels[i].constants, b.CreateConstInBoundsGEP2_32(argsTy, args, 0, at++));
        if (end - begin > 1) {
          auto [n, weight] = loopShape(k);
          llvm::Value *loop = b.CreateConstInBoundsGEP2_32(loopsTy, loopArray, 0, unsigned(i - begin));
          b.CreateStore(b.getInt64(n), b.CreateStructGEP(loopTy, loop, 0));
          b.CreateStore(b.getInt64(weight), b.CreateStructGEP(loopTy, loop, 1));
          b.CreateStore(kernels[i].fn, b.CreateStructGEP(loopTy, loop, 2));
          b.CreateStore(kernelArgs, b.CreateStructGEP(loopTy, loop, 3));
        } else if (k.parallelExtent > 0) {
          b.CreateCall(parallelFor, {rtctx, b.getInt64(k.parallelExtent), kernels[i].fn, kernelArgs});
        } else {
          b.CreateCall(kernels[i].fn, {kernelArgs, b.getInt64(0), b.getInt64(1)});
        }
      }
      if (end - begin > 1) b.CreateCall(parallelLoops, {rtctx, b.getInt32(end - begin), loopArray});
      // A few nanoseconds per kernel when not profiling. A group's kernels
      // end together: the profile charges the group to its first kernel.
      for (size_t i = begin; i < end; ++i) b.CreateCall(kernelEnd, {rtctx, b.getInt32(i)});
    }
    b.CreateRetVoid();
  }

  /// One global per distinct string. Kernels of an unrolled loop repeat
  /// their summaries thousands of times, and LLVM's ConstantMerge folding
  /// the copies into the descriptor's arrays one by one was quadratic.
  llvm::Constant *str(llvm::StringRef s) {
    llvm::Constant *&c = strings[s];
    if (!c) c = b.CreateGlobalStringPtr(s, "str", 0, mod.get());
    return c;
  }
  llvm::Constant *i32(int64_t v) { return b.getInt32(v); }
  llvm::Constant *i64(int64_t v) { return b.getInt64(v); }
  llvm::Constant *f64(double v) { return llvm::ConstantFP::get(b.getDoubleTy(), v); }

  llvm::Constant *array(llvm::Type *elem, llvm::ArrayRef<llvm::Constant *> items, llvm::StringRef name) {
    auto *at = llvm::ArrayType::get(elem, items.size());
    return new llvm::GlobalVariable(*mod, at, true, llvm::GlobalValue::PrivateLinkage, llvm::ConstantArray::get(at, items), name);
  }

  void emitDescriptor(llvm::ArrayRef<std::pair<const LoweredModel::Entry *, llvm::Function *>> entries) {
    auto *ptr = b.getPtrTy();
    llvm::Type *i64t = b.getInt64Ty();
    AbiTypes abi = abiTypes(ctx);
    llvm::StructType *tensorTy = abi.tensor, *storedTy = abi.stored, *entryTy = abi.entry, *modelTy = abi.model;

    std::vector<llvm::Constant *> tensors;
    for (auto &s : lm.slots) {
      std::vector<llvm::Constant *> dims;
      for (int64_t d : s.type.shape) dims.push_back(i64(d));
      llvm::Constant *dimsPtr = dims.empty() ? llvm::ConstantPointerNull::get(ptr) : array(i64t, dims, "dims");
      // [low, limit) per column, (0, 0) for an unbounded one.
      std::vector<llvm::Constant *> columns;
      for (const IndexRange &r : s.columnRanges) {
        columns.push_back(i32(r.bounded() ? r.low : 0));
        columns.push_back(i32(r.bounded() ? r.limit : 0));
      }
      llvm::Constant *columnsPtr =
          columns.empty() ? llvm::ConstantPointerNull::get(ptr) : array(b.getInt32Ty(), columns, "column_ranges");
      tensors.push_back(llvm::ConstantStruct::get(
          tensorTy, {str(s.name), i32(s.role), i32(dtypeCode(s.type.dtype)), i32(s.type.rank()),
                     i32(s.range.bounded() ? s.range.low : 0), i32(s.range.bounded() ? s.range.limit : 0), dimsPtr,
                     str(s.init), f64(s.defaultValue), columnsPtr}));
    }
    std::vector<llvm::Constant *> ents;
    for (auto &[e, fn] : entries) {
      const Graph *g = m.graph(e->name);
      std::string inputs, outputs;
      for (Node *in : g->leaves(OpKind::Input)) inputs += (inputs.empty() ? "" : ",") + in->attrs.getString(AttrKey::Name).str();
      for (auto &o : g->outputs) outputs += (outputs.empty() ? "" : ",") + o.name;
      std::vector<llvm::Constant *> names;
      for (auto &k : e->kernels) names.push_back(str(k.summary));
      llvm::Constant *namesPtr = names.empty() ? llvm::ConstantPointerNull::get(ptr) : array(ptr, names, "kernel_names");
      std::vector<llvm::Constant *> stored;
      for (size_t k = 0; k < e->kernels.size(); ++k)
        for (auto &st : e->kernels[k].stored) {
          int tensor = st.where.isSlot ? slotIndex.at(st.where.slot) : -1;
          stored.push_back(llvm::ConstantStruct::get(
              storedTy, {str(st.what), i32(k), i32(tensor), i64(st.where.offset), i64(st.where.elements),
                         i32(loopTypeCode(st.where.type)), i32(st.lastRead)}));
        }
      llvm::Constant *storedPtr = stored.empty() ? llvm::ConstantPointerNull::get(ptr) : array(storedTy, stored, "stored");
      ents.push_back(llvm::ConstantStruct::get(entryTy, {str(e->name), fn, i64(e->arenaBytes), i32(e->kernels.size()),
                                                         i32(productDtypes(e->kernels)), str(inputs), str(outputs), namesPtr, storedPtr,
                                                         i64(stored.size())}));
    }

    const DataSpec &d = m.data;
    int dataKind = d.kind == DataSpec::Table ? GRT_DATA_TABLE : d.kind == DataSpec::Text ? GRT_DATA_TEXT : GRT_DATA_NONE;
    std::string source = m.files.size() > 1 ? m.files[1] : "";
    std::string constants;
    for (auto &[name, value] : m.constants) constants += name + "=" + value + "\n";
    auto *desc = llvm::ConstantStruct::get(
        modelTy, {i32(GRT_ABI_VERSION), i32(tensors.size()), str(m.name), str(source), str(trainSummary(m)),
                  array(tensorTy, tensors, "tensors"), array(entryTy, ents, "entries"), i32(ents.size()), i32(dataKind),
                  i64(d.rows), str(d.corpus), str(d.textInput), str(d.textTarget), str(constants)});
    new llvm::GlobalVariable(*mod, modelTy, true, llvm::GlobalValue::ExternalLinkage, desc, "gradc_model");
  }

  const Module &m;
  const LoweredModel &lm;
  llvm::LLVMContext &ctx;
  const EmitOptions &opts;
  std::unique_ptr<llvm::Module> mod;
  llvm::IRBuilder<> b;
  std::map<std::string, int> slotIndex;
  std::map<std::string, llvm::Function *> byLoops, byShape;
  std::map<std::string, llvm::Constant *> constantsOf;
  llvm::StringMap<llvm::Constant *> strings;
};

} // namespace

AbiTypes abiTypes(llvm::LLVMContext &ctx) {
  auto *ptr = llvm::PointerType::getUnqual(ctx);
  llvm::Type *i32t = llvm::Type::getInt32Ty(ctx), *i64t = llvm::Type::getInt64Ty(ctx), *f64t = llvm::Type::getDoubleTy(ctx);
  AbiTypes t;
  // GrtTensor: name, role, dtype, rank, index_low, index_limit, dims, init,
  // default_value, column_ranges.
  t.tensor = llvm::StructType::create(ctx, {ptr, i32t, i32t, i32t, i32t, i32t, ptr, ptr, f64t, ptr}, "GrtTensor");
  // GrtStored: what, kernel, tensor, offset, count, dtype, last_read.
  t.stored = llvm::StructType::create(ctx, {ptr, i32t, i32t, i64t, i64t, i32t, i32t}, "GrtStored");
  // GrtEntry: name, fn, arena_bytes, num_kernels, products, inputs, outputs,
  // kernel_names, stored, num_stored.
  t.entry = llvm::StructType::create(ctx, {ptr, ptr, i64t, i32t, i32t, ptr, ptr, ptr, ptr, i64t}, "GrtEntry");
  // GrtModel: abi_version, num_tensors, name, source, optimizer, tensors,
  // entries, num_entries, data_kind, data_rows, text_corpus, text_input,
  // text_target, constants.
  t.model =
      llvm::StructType::create(ctx, {i32t, i32t, ptr, ptr, ptr, ptr, ptr, i32t, i32t, i64t, ptr, ptr, ptr, ptr}, "GrtModel");
  // GrtCall: body, extent, weight, joins_previous, num_args.
  t.call = llvm::StructType::create(ctx, {ptr, i64t, i64t, i32t, i32t}, "GrtCall");
  // GrtCallArg: kind, slot, offset, address.
  t.callArg = llvm::StructType::create(ctx, {i32t, i32t, i64t, ptr}, "GrtCallArg");
  return t;
}

LoweredModel lowerToLoops(const Module &m, const ScheduleOptions &opts) {
  LoweredModel lm;
  lm.slots = collectSlots(m);
  for (const SlotInfo &s : lm.slots) {
    auto conflict = [&](const IndexRange &r, const std::string &what) {
      if (!r.empty()) return;
      lm.rangeConflicts.push_back(
          {r.limitUse, "no value of " + what + " fits every use of it as an index: this use takes values below " +
                           std::to_string(r.limit) + ", the one at " + m.locStr(r.lowUse->loc) + " values from " +
                           std::to_string(r.low)});
    };
    conflict(s.range, "input '" + s.name + "'");
    // One error for the input, at its first such column: a [B, 4096]
    // input gave thousands, at one place.
    auto bad = llvm::find_if(s.columnRanges, [](const IndexRange &r) { return r.empty(); });
    if (bad != s.columnRanges.end())
      conflict(*bad, "column '" + s.name + "[" + std::to_string(bad - s.columnRanges.begin()) + "]'");
  }
  for (auto &g : m.graphs) {
    LoweredModel::Entry e;
    e.name = g->name;
    e.kernels = scheduleGraph(m, *g, opts);
    if (opts.rebaseBuffers)
      for (loops::Kernel &k : e.kernels) loops::rebaseBuffers(k);
    e.arenaBytes = g->arenaBytes;
    lm.entries.push_back(std::move(e));
  }
  return lm;
}

std::unique_ptr<llvm::Module> emitLLVM(const Module &m, const LoweredModel &lm, llvm::LLVMContext &ctx,
                                       const EmitOptions &opts) {
  return ModuleEmitter(m, lm, ctx, opts).run();
}

} // namespace gradc
