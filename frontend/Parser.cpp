//===- frontend/Parser.cpp - builds the syntax tree of a .grad file -------===//
#include "frontend/Parser.h"

#include "frontend/NearMiss.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>

namespace gradc {

using namespace ast;

Parser::Parser(unsigned bufferId, DiagEngine &diag)
    : diag(diag), buffer(diag.sourceMgr().getMemoryBuffer(bufferId)->getBuffer()),
      lexer(buffer, [&diag](llvm::SMLoc l, const llvm::Twine &m) { diag.error(l, m); }) {
  advance();
}

//===--- tokens -----------------------------------------------------------===//

void Parser::advance() {
  if (tok.text.data() && !tok.is(Tok::Newline)) prevEnd = tok.endLoc();
  if (!tok.text.data()) prevEnd = llvm::SMLoc::getFromPointer(buffer.data());
  if (tok.is(Tok::LParen) || tok.is(Tok::LBracket)) ++brackets;
  if ((tok.is(Tok::RParen) || tok.is(Tok::RBracket)) && brackets > 0) --brackets;
  tok = lexer.next();
  while (brackets > 0 && tok.is(Tok::Newline)) tok = lexer.next();
}

bool Parser::consume(Tok k) {
  if (!tok.is(k)) return false;
  advance();
  return true;
}

void Parser::error(llvm::SMLoc loc, const llvm::Twine &msg) {
  // At a token the lexer could not read, the lexer has said what is wrong.
  if (tok.is(Tok::Error)) return;
  diag.error(loc, msg);
}

/// "blocks.0.weight" reads as blocks, then the number .0: say how a layer
/// index is written, where the number touches what came before.
std::string Parser::wordOperatorHint() const {
  if (tok.text == "and") return "; 'and' is written &&";
  if (tok.text == "or") return "; 'or' is written ||";
  if (tok.text == "if") return "; a value chosen by a condition is where(cond, a, b)";
  if (tok.text == "elif") return "; 'elif' is written 'else if', after the '}' of the if's block";
  return "";
}

std::string Parser::commentHint() const {
  // `z = x  // the input`: '//' divides, and read the comment as operands.
  const char *at = tok.text.data(), *first = buffer.data();
  llvm::StringRef line(at, 0);
  for (const char *p = at; p > first && p[-1] != '\n'; --p) line = llvm::StringRef(p - 1, size_t(at - p + 1));
  return line.contains("//") ? "; comments start with '#' ('//' divides, rounding down)" : "";
}

std::string Parser::dotIndexHint() const {
  if (!tok.is(Tok::Float) || !tok.text.starts_with(".") || tok.loc() != prevEnd) return "";
  llvm::StringRef digits = tok.text.drop_front();
  if (digits.empty() || !llvm::all_of(digits, llvm::isDigit)) return "";
  // The name before it, read back from the source (blocks, h, ...).
  const char *begin = tok.text.data(), *stop = buffer.data();
  while (begin > stop && (llvm::isAlnum(begin[-1]) || begin[-1] == '_')) --begin;
  std::string name = begin < tok.text.data() ? std::string(begin, tok.text.data()) : "blocks";
  // After a number (1.2.3), the second point is the mistake, not an index.
  if (llvm::isDigit(name[0])) return "; a number has one decimal point";
  return "; a layer index goes in brackets: " + name + "[" + digits.str() + "], as in " + name + "[" + digits.str() +
         "].weight";
}

bool Parser::expect(Tok k, llvm::StringRef what) {
  if (consume(k)) return true;
  // Point at the end of the previous token when the problem is something
  // missing at the end of a line; otherwise at the offending token.
  llvm::SMLoc at = tok.is(Tok::Newline) || tok.is(Tok::Eof) ? prevEnd : tok.loc();
  std::string found = tok.is(Tok::Newline) || tok.is(Tok::Eof) ? tokSpelling(tok.kind).str() : "'" + tok.text.str() + "'";
  error(at, "expected " + what + ", found " + found + dotIndexHint() + wordOperatorHint());
  return false;
}

bool Parser::expectClosing(Tok k, llvm::StringRef what, llvm::SMLoc open) {
  unsigned before = diag.errorCount();
  if (expect(k, what)) return true;
  noteOpening(open, before);
  return false;
}

void Parser::noteOpening(llvm::SMLoc open, unsigned errorsBefore) {
  if (diag.errorCount() > errorsBefore) diag.note(open, "to match this '" + llvm::StringRef(open.getPointer(), 1) + "'");
}

llvm::SMRange Parser::rangeFrom(llvm::SMLoc start) const { return llvm::SMRange(start, prevEnd); }

void Parser::skipNewlines() {
  while (tok.is(Tok::Newline) || tok.is(Tok::Semi)) advance();
}

void Parser::skipNewlinesBefore(Tok k) {
  if (!tok.is(Tok::Newline)) return;
  Lexer save = lexer;
  Token saveTok = tok;
  llvm::SMLoc savePrev = prevEnd;
  while (tok.is(Tok::Newline)) advance();
  if (tok.is(k)) return;
  lexer = save;
  tok = saveTok;
  prevEnd = savePrev;
}

bool Parser::atStatementEnd() const {
  return tok.is(Tok::Newline) || tok.is(Tok::Semi) || tok.is(Tok::RBrace) || tok.is(Tok::Eof);
}

void Parser::syncToStatementEnd() {
  // Whatever brackets were open, the statement is abandoned: newlines count
  // again, so recovery stops at the end of this line.
  brackets = 0;
  int braces = 0;
  while (!tok.is(Tok::Eof)) {
    if (braces == 0 && (tok.is(Tok::Newline) || tok.is(Tok::Semi))) return;
    if (tok.is(Tok::LBrace)) ++braces;
    if (tok.is(Tok::RBrace)) {
      if (braces == 0) return;
      --braces;
    }
    advance();
  }
}

//===--- declarations -----------------------------------------------------===//

std::unique_ptr<Program> Parser::parseProgram() {
  auto prog = std::make_unique<Program>();
  while (true) {
    skipNewlines();
    if (tok.is(Tok::Eof)) break;
    if (diag.tooMany()) {
      diag.sayStopping();
      break;
    }
    if (tok.is(Tok::KwConst)) {
      lastClose = {};
      if (auto c = parseConst()) prog->consts.push_back(std::move(c));
    } else if (tok.is(Tok::KwFn) || tok.is(Tok::KwModel)) {
      if (tok.is(Tok::KwFn)) {
        if (auto f = parseFn()) prog->fns.push_back(std::move(f));
      } else if (auto m = parseModel()) {
        prog->models.push_back(std::move(m));
      }
      if (prevEnd.isValid() && prevEnd.getPointer()[-1] == '}') lastClose = llvm::SMLoc::getFromPointer(prevEnd.getPointer() - 1);
      // A block its '}' never closed ends at the next definition (see
      // parseBlock), which starts its own line.
      if (definitionStartsLine()) continue;
    } else if (tok.text == "module" && prog->consts.empty() && prog->fns.empty() && prog->models.empty() &&
               !diag.hasErrors()) {
      // `gradc dump --stage=graph > m.grad`: text IR read as source gave an
      // error on every line of its header.
      error(tok.loc(), "this reads as gradc's text IR (it begins with 'module'), not .grad source; gradc tells the two "
                       "apart by the file's extension, so name it .gir");
      break;
    } else {
      // A stray '}' inside a model ended it early, and every line after it
      // got this error: one, with the '}' that ended it, then the rest up
      // to the next declaration is skipped.
      error(tok.loc(), "expected 'const', 'fn' or 'model' at top level, found '" + tok.text + "'");
      // (Not when the stray token is a '}' itself: the error points at it.)
      if (lastClose.isValid() && !tok.is(Tok::RBrace))
        diag.note(lastClose, "the declaration before ended at this '}'; is it one too many?");
      lastClose = {};
      do {
        syncToStatementEnd();
        if (tok.is(Tok::RBrace)) advance();
        skipNewlines();
      } while (!tok.is(Tok::Eof) && !tok.is(Tok::KwConst) && !tok.is(Tok::KwFn) && !tok.is(Tok::KwModel));
      continue;
    }
    if (!atStatementEnd()) {
      error(tok.loc(), "expected end of line, found '" + tok.text + "'");
      syncToStatementEnd();
    }
  }
  return prog;
}

ExprPtr Parser::parseValue() {
  ExprPtr e = parseExpr();
  if (e && !tok.is(Tok::Eof)) {
    std::string found = tok.is(Tok::Newline) ? tokSpelling(tok.kind).str() : "'" + tok.text.str() + "'";
    error(tok.loc(), "expected one value, found " + found + " after it");
    return nullptr;
  }
  return e;
}

std::unique_ptr<ConstStmt> Parser::parseConst() {
  llvm::SMLoc start = tok.loc();
  advance(); // const
  std::string name = tok.text.str();
  llvm::SMLoc nameLoc = tok.loc();
  if (!expect(Tok::Ident, "a constant name") || !expect(Tok::Assign, "'='")) {
    syncToStatementEnd();
    return nullptr;
  }
  ExprPtr value = parseExpr();
  if (!value) {
    syncToStatementEnd();
    return nullptr;
  }
  return std::make_unique<ConstStmt>(rangeFrom(start), name, nameLoc, std::move(value));
}

std::unique_ptr<FnDecl> Parser::parseFn() {
  auto fn = std::make_unique<FnDecl>();
  llvm::SMLoc start = tok.loc();
  advance(); // fn
  fn->name = tok.text.str();
  fn->nameLoc = tok.loc();
  if (!expect(Tok::Ident, "a function name")) {
    syncToStatementEnd();
    return nullptr;
  }
  llvm::SMLoc open = tok.loc();
  if (!expect(Tok::LParen, "'('")) {
    syncToStatementEnd();
    return nullptr;
  }
  while (!tok.is(Tok::RParen)) {
    FnParam p;
    p.name = tok.text.str();
    p.loc = tok.loc();
    if (!expect(Tok::Ident, "a parameter name")) {
      syncToStatementEnd();
      return nullptr;
    }
    if (consume(Tok::Assign) && !(p.defaultValue = parseExpr())) {
      syncToStatementEnd();
      return nullptr;
    }
    fn->params.push_back(std::move(p));
    if (!consume(Tok::Comma)) break;
  }
  inFunction = true;
  auto outside = llvm::make_scope_exit([&] { inFunction = false; });
  if (!expectClosing(Tok::RParen, "')' after the parameters", open) || !parseBlock(fn->body)) {
    syncToStatementEnd();
    return nullptr;
  }
  fn->range = rangeFrom(start);
  return fn;
}

std::unique_ptr<ModelDecl> Parser::parseModel() {
  auto m = std::make_unique<ModelDecl>();
  llvm::SMLoc start = tok.loc();
  advance(); // model
  m->name = tok.text.str();
  m->nameLoc = tok.loc();
  if (!expect(Tok::Ident, "a model name") || !parseBlock(m->body)) {
    syncToStatementEnd();
    return nullptr;
  }
  m->range = rangeFrom(start);
  return m;
}

bool Parser::parseBlock(Block &out) {
  if (blockDepth >= kMaxBlockDepth) {
    // Recovery skips the whole nested block, brace by brace, without recursing.
    error(tok.loc(), "blocks nest more than " + llvm::Twine(kMaxBlockDepth) + " deep here (an 'else if' counts as one level)");
    return false;
  }
  // `if c` with its `{` on the next line (the Allman style): two errors.
  skipNewlinesBefore(Tok::LBrace);
  llvm::SMLoc open = tok.loc();
  if (!expect(Tok::LBrace, "'{'")) return false;
  ++blockDepth;
  auto leave = llvm::make_scope_exit([&] { --blockDepth; });
  bool unreachableSaid = false;
  while (true) {
    skipNewlines();
    if (tok.is(Tok::RBrace)) {
      advance();
      return true;
    }
    if (tok.is(Tok::Eof)) {
      unsigned before = diag.errorCount();
      error(tok.loc(), "expected '}' before end of file");
      noteOpening(open, before);
      return false;
    }
    if (diag.tooMany()) return false;
    // `fn` or `model` at the start of a line inside a block: the block's
    // '}' is missing (the first error was "'model' begins a definition,
    // which goes at the top level"). The block ends here, so the
    // definition that follows parses as what it is.
    if (definitionStartsLine()) {
      unsigned before = diag.errorCount();
      error(tok.loc(), "expected '}' before '" + tok.text + "': this block is still open where the next definition "
                       "begins");
      noteOpening(open, before);
      return true;
    }
    // What follows a return in its block never runs, and was not even
    // checked: `return a` then `b = qq` built without a word.
    if (!out.empty() && out.back()->kind == Stmt::Return && !unreachableSaid && inFunction) {
      unreachableSaid = true;
      diag.warning(tok.loc(), "this statement is never run: the 'return' before it ends the function, and nothing "
                              "after it in its block is checked");
    }
    parseStatementInto(out);
  }
}

bool Parser::definitionStartsLine() const {
  return (tok.is(Tok::KwFn) || tok.is(Tok::KwModel)) && llvm::StringRef("\n\r").contains(tok.loc().getPointer()[-1]);
}

void Parser::parseStatementInto(Block &out) {
  llvm::SMLoc start = tok.loc();
  StmtPtr s = parseStatement();
  // A statement dropped without a message would vanish from a model that
  // then builds; every failure above must have said why.
  if (!s && !diag.hasErrors()) diag.error(start, "internal error: this statement failed to parse without a message");
  // After a block that a definition ended (parseBlock), the definition
  // ends this statement too: each block still open says so in turn.
  if (s && !atStatementEnd() && !definitionStartsLine()) {
    error(tok.loc(), "expected end of statement, found '" + tok.text + "'" + dotIndexHint() + wordOperatorHint() +
                         commentHint());
    s = nullptr;
  }
  if (!s) {
    syncToStatementEnd();
    return;
  }
  out.push_back(std::move(s));
}

//===--- statements -------------------------------------------------------===//

bool Parser::parseType(TypeExpr &out) {
  llvm::SMLoc start = tok.loc();
  out.dtype = tok.text.str();
  out.dtypeRange = llvm::SMRange(tok.loc(), tok.endLoc());
  if (!expect(Tok::Ident, "a type such as f32[B, 1]")) return false;
  if (llvm::SMLoc open = tok.loc(); consume(Tok::LBracket)) {
    while (!tok.is(Tok::RBracket)) {
      ExprPtr d = parseExpr();
      if (!d) return false;
      out.dims.push_back(std::move(d));
      if (!consume(Tok::Comma)) break;
    }
    if (!expectClosing(Tok::RBracket, "']' to close the shape", open)) return false;
  }
  out.range = rangeFrom(start);
  return true;
}

bool Parser::parseArgs(std::vector<Arg> &out, llvm::SMLoc open) {
  while (!tok.is(Tok::RParen)) {
    Arg a;
    // `name = value` is a keyword argument (keywords such as `input` may be
    // argument names too); peek by saving the lexer state.
    if (tok.is(Tok::Ident) || (!tok.text.empty() && std::isalpha((unsigned char)tok.text[0]) && !tok.is(Tok::KwTrue) &&
                               !tok.is(Tok::KwFalse) && !tok.is(Tok::KwNone))) {
      Lexer save = lexer;
      Token saveTok = tok;
      llvm::SMLoc savePrev = prevEnd;
      std::string name = tok.text.str();
      llvm::SMLoc nameLoc = tok.loc();
      advance();
      if (tok.is(Tok::Assign)) {
        advance();
        a.name = name;
        a.nameLoc = nameLoc;
      } else {
        lexer = save;
        tok = saveTok;
        prevEnd = savePrev;
      }
    }
    a.value = parseExpr();
    if (!a.value) return false;
    out.push_back(std::move(a));
    if (!consume(Tok::Comma)) break;
  }
  return expectClosing(Tok::RParen, "')' to close the argument list", open);
}

StmtPtr Parser::parseStatement() {
  llvm::SMLoc start = tok.loc();
  auto nameAfter = [&](llvm::StringRef what, std::string &name, llvm::SMLoc &loc) {
    advance();
    name = tok.text.str();
    loc = tok.loc();
    return expect(Tok::Ident, what);
  };
  std::string name;
  llvm::SMLoc nameLoc;
  switch (tok.kind) {
  case Tok::KwInput: {
    if (!nameAfter("an input name", name, nameLoc) || !expect(Tok::Colon, "':' and a type")) return nullptr;
    TypeExpr t;
    if (!parseType(t)) return nullptr;
    return std::make_unique<InputStmt>(rangeFrom(start), name, nameLoc, std::move(t));
  }
  case Tok::KwParam: {
    if (!nameAfter("a parameter name", name, nameLoc) || !expect(Tok::Colon, "':' and a type")) return nullptr;
    TypeExpr t;
    if (!parseType(t)) return nullptr;
    ExprPtr init;
    if (consume(Tok::Assign) && !(init = parseExpr())) return nullptr;
    return std::make_unique<ParamStmt>(rangeFrom(start), name, nameLoc, std::move(t), std::move(init));
  }
  case Tok::KwConst: return parseConst();
  case Tok::KwReturn: {
    advance();
    // A bare 'return' gives none, as Python's does.
    if (atStatementEnd()) return std::make_unique<ReturnStmt>(rangeFrom(start), nullptr);
    ExprPtr v = parseExpr();
    if (!v) return nullptr;
    return std::make_unique<ReturnStmt>(rangeFrom(start), std::move(v));
  }
  case Tok::KwFor: {
    if (!nameAfter("a loop variable", name, nameLoc) || !expect(Tok::KwIn, "'in'")) return nullptr;
    ExprPtr lo = parseExpr();
    if (!lo) return nullptr;
    // Python's habits: `for k in [1, 2, 3]` and `for i in range(3)`.
    if (!tok.is(Tok::DotDot) && (llvm::isa<ListExpr>(lo.get()) || llvm::isa<CallExpr>(lo.get()))) {
      error(lo->loc(), "a loop runs over a range lo..hi of integers, as for i in 0..3 (Python's range(3)); for a "
                       "list's items, loop over its indices, for i in 0..len(l), and read l[i]");
      return nullptr;
    }
    if (!expect(Tok::DotDot, "'..' in the range lo..hi")) return nullptr;
    ExprPtr hi = parseExpr();
    Block body;
    if (!hi || !parseBlock(body)) return nullptr;
    return std::make_unique<ForStmt>(rangeFrom(start), name, nameLoc, std::move(lo), std::move(hi), std::move(body));
  }
  case Tok::KwIf: {
    advance();
    ExprPtr cond = parseExpr();
    Block then, otherwise;
    if (!cond || !parseBlock(then)) return nullptr;
    // `else` may start the next line: no statement begins with it, so
    // reading past the newlines to look for one is unambiguous.
    skipNewlinesBefore(Tok::KwElse);
    if (consume(Tok::KwElse)) {
      if (tok.is(Tok::KwIf)) {
        // The chain nests in the tree, so each `else if` counts as a level:
        // the block of the 64th is refused.
        ++blockDepth;
        StmtPtr nested = parseStatement();
        --blockDepth;
        if (!nested) return nullptr;
        otherwise.push_back(std::move(nested));
      } else if (!parseBlock(otherwise)) {
        return nullptr;
      }
    }
    return std::make_unique<IfStmt>(rangeFrom(start), std::move(cond), std::move(then), std::move(otherwise));
  }
  case Tok::KwTrain: {
    if (!nameAfter("an optimizer such as sgd or adamw", name, nameLoc)) return nullptr;
    std::vector<Arg> args;
    if (llvm::SMLoc open = tok.loc(); consume(Tok::LParen) && !parseArgs(args, open)) return nullptr;
    return std::make_unique<TrainStmt>(rangeFrom(start), name, nameLoc, std::move(args));
  }
  case Tok::KwOutput: {
    if (!nameAfter("the name of a value to output", name, nameLoc)) return nullptr;
    // `output probs = softmax(h)`, as `metric acc = ...` is written (it was
    // "expected end of statement").
    ExprPtr v;
    if (consume(Tok::Assign) && !(v = parseExpr())) return nullptr;
    return std::make_unique<OutputStmt>(rangeFrom(start), name, nameLoc, std::move(v));
  }
  case Tok::KwMetric: {
    if (!nameAfter("a metric name", name, nameLoc) || !expect(Tok::Assign, "'='")) return nullptr;
    ExprPtr v = parseExpr();
    if (!v) return nullptr;
    return std::make_unique<MetricStmt>(rangeFrom(start), name, nameLoc, std::move(v));
  }
  case Tok::KwData: {
    if (!nameAfter("a data kind ('table' or 'text')", name, nameLoc)) return nullptr;
    std::vector<Arg> args;
    Block body;
    if (llvm::SMLoc open = tok.loc(); consume(Tok::LParen) && !parseArgs(args, open)) return nullptr;
    skipNewlinesBefore(Tok::LBrace); // its body's '{' on the next line, as after `if`
    if (tok.is(Tok::LBrace) && !parseBlock(body)) return nullptr;
    return std::make_unique<DataStmt>(rangeFrom(start), name, nameLoc, std::move(args), std::move(body));
  }
  case Tok::Ident: {
    name = tok.text.str();
    nameLoc = tok.loc();
    advance();
    if (!tok.is(Tok::Assign)) {
      if (tok.is(Tok::Colon)) {
        error(nameLoc, "a declaration needs 'input' or 'param' before the name");
        return nullptr;
      }
      // `check(T)` (or `enc.check(T)`) on a line of its own, for the
      // error() it may raise.
      if (tok.is(Tok::Dot) && lexer.peek().is(Tok::Ident)) {
        // A dotted name, with any members and indices after it (fc.weight,
        // x.y.z, h[0].w): then '(' is a call on its own line, and
        // anything else is no statement. `fc.weight = h` and `x.y.z = 4`
        // were told about calls, of which they have none.
        std::string dotted = name;
        while (true) {
          if (tok.is(Tok::Dot) && lexer.peek().is(Tok::Ident)) {
            advance();
            dotted += "." + tok.text.str();
            advance();
          } else if (tok.is(Tok::LBracket)) {
            int depth = 0;
            do {
              depth += tok.is(Tok::LBracket) ? 1 : tok.is(Tok::RBracket) ? -1 : 0;
              advance();
            } while (depth > 0 && !atStatementEnd());
            dotted += "[...]";
          } else {
            break;
          }
        }
        if (tok.is(Tok::LParen)) {
          error(nameLoc, "a call on its own is no statement: every statement assigns a value to a name; for a call "
                         "made only for its checks, assign its result to _, as _ = " + dotted + "(...)");
          return nullptr;
        }
        error(nameLoc, "'" + dotted + "' cannot " + (tok.is(Tok::Assign) ? "be assigned" : "begin a statement") +
                           ": a dotted name reads a param that a scoped call made (" + name + ".linear(x, n) makes " +
                           name + ".weight); a statement assigns a value to a name without a dot");
        return nullptr;
      }
      if (tok.is(Tok::LParen)) {
        error(nameLoc, "a call on its own is no statement: every statement assigns a value to a name; for a call "
                       "made only for its checks, assign its result to _, as _ = " + name + "(...)");
        return nullptr;
      }
      // Python's `def f(x):`, `elif c:`: the words differ here.
      if (name == "def") {
        error(nameLoc, "functions are declared with fn: fn name(a, b) { ... return value }, at the top level of the "
                       "file");
        return nullptr;
      }
      if (name == "elif") {
        error(nameLoc, "'elif' is written 'else if', after the '}' of the if's block");
        return nullptr;
      }
      // `while x {`, `break`: there are no such statements.
      if (name == "while" || name == "break" || name == "continue") {
        error(nameLoc, "there is no '" + name + "': loops are for i in lo..hi, with bounds known when the model is "
                       "built (gradc unrolls them), and run every pass");
        return nullptr;
      }
      // `inptu x: f32[4]`, `parm w`: a name followed by another name is a
      // statement keyword misspelt.
      std::string hint;
      if (tok.is(Tok::Ident)) {
        NearMiss near(name);
        for (llvm::StringRef kw : {"input", "param", "output", "metric", "const", "train", "data", "return"})
          near.consider(kw);
        hint = near.hint();
      }
      // `target y: f32[4, 1]`, `weight w: f32[3]`: a declaration with
      // another framework's word.
      if (tok.is(Tok::Ident) && hint.empty() && lexer.peek().is(Tok::Colon)) {
        error(nameLoc, "'" + name + " " + tok.text + ": ...' is not a declaration: a model declares 'input " + tok.text +
                           ": TYPE' (data given each step, targets too) or 'param " + tok.text + ": TYPE = INIT' (trained)");
        return nullptr;
      }
      // `h += 1`: Python's augmented assignment.
      if ((tok.is(Tok::Plus) || tok.is(Tok::Minus) || tok.is(Tok::Star) || tok.is(Tok::Slash) ||
           tok.is(Tok::Percent) || tok.is(Tok::At)) &&
          lexer.peek().is(Tok::Assign) && lexer.peek().text.data() == tok.text.end()) {
        error(tok.loc(), "'" + tok.text + "=' is not in the language: write " + name + " = " + name + " " + tok.text +
                             " ...");
        return nullptr;
      }
      // `h[:, 0] = 1`: a part of a tensor assigned.
      if (tok.is(Tok::LBracket)) {
        error(tok.loc(), "a part of '" + name + "' cannot be assigned: tensors are values, so make a new one, with "
                         "where(mask, new, " + name + ") or by concat of the parts");
        return nullptr;
      }
      // `h, c = cell(x, h, c)`: an LSTM cell returning [h, c].
      if (tok.is(Tok::Comma)) {
        error(tok.loc(), "a statement assigns one name; to take a list apart, write r = f(...), then " + name +
                             " = r[0] and the next name = r[1]");
        return nullptr;
      }
      error(tok.is(Tok::Newline) ? prevEnd : tok.loc(), "expected '=' after '" + name + "'; a statement assigns a value to a name");
      if (!hint.empty()) diag.note(nameLoc, hint);
      return nullptr;
    }
    advance();
    ExprPtr v = parseExpr();
    if (!v) return nullptr;
    return std::make_unique<AssignStmt>(rangeFrom(start), name, nameLoc, std::move(v));
  }
  default:
    if (tok.is(Tok::KwFn) || tok.is(Tok::KwModel)) {
      error(tok.loc(), "'" + tok.text + "' begins a definition, which goes at the top level of the file, outside "
                       "any model or function; functions are defined there and called from anywhere");
      return nullptr;
    }
    error(tok.loc(), "expected a statement, found " +
                         (tok.is(Tok::Eof) ? tokSpelling(tok.kind).str() : "'" + tok.text.str() + "'"));
    return nullptr;
  }
}

//===--- expressions ------------------------------------------------------===//

static int precedence(Tok k) {
  switch (k) {
  case Tok::OrOr: return 1;
  case Tok::AndAnd: return 2;
  case Tok::EqEq:
  case Tok::Ne: return 3;
  case Tok::Lt:
  case Tok::Le:
  case Tok::Gt:
  case Tok::Ge: return 4;
  case Tok::Plus:
  case Tok::Minus: return 5;
  case Tok::Star:
  case Tok::Slash:
  case Tok::SlashSlash:
  case Tok::Percent:
  case Tok::At: return 6;
  default: return -1;
  }
}

static bool isOrdering(llvm::StringRef op) { return op == "<" || op == "<=" || op == ">" || op == ">="; }
static bool isComparison(llvm::StringRef op) { return isOrdering(op) || op == "==" || op == "!="; }

/// `e` as a comparison written without parentheses around it, or null.
static const BinaryExpr *bareComparison(const Expr *e) {
  auto *bin = llvm::dyn_cast<BinaryExpr>(e);
  // (A parenthesised comparison's range starts at its '(', before its
  // left operand's: (a < b) < c is what it says.)
  if (!bin || !isComparison(bin->op) || bin->range.Start != bin->lhs->range.Start) return nullptr;
  return bin;
}

ExprPtr Parser::parseExpr() { return parseBinary(1); }

ExprPtr Parser::bounded(ExprPtr e, llvm::SMLoc at) {
  if (e->height <= kMaxDepth) return e;
  // A flat chain is as deep as it is long: say so, or "nested" puzzles.
  error(at, "expression is nested too deeply (more than " + llvm::Twine(kMaxDepth) +
                " levels: each operator of a chain such as a + b + c, and each call or index of x.f(1)[0], adds one); "
                "split it into parts");
  return nullptr;
}

ExprPtr Parser::parseBinary(int minPrec) {
  ExprPtr lhs = parseUnary();
  while (lhs) {
    int prec = precedence(tok.kind);
    if (prec < minPrec) break;
    // `0 < x < 1` read as (0 < x) < 1, a bool against a number, and the
    // note to convert the bool led to code meaning x <= 0. Python reads
    // `a == b == c` and `x < y == z` as chains too, so they are refused
    // alike rather than compiled with another meaning.
    std::string op = tok.text.str();
    const BinaryExpr *first = isComparison(op) ? bareComparison(lhs.get()) : nullptr;
    if (first) {
      std::string a(first->lhs->range.Start.getPointer(), first->lhs->range.End.getPointer());
      std::string x(first->rhs->range.Start.getPointer(), first->rhs->range.End.getPointer());
      std::string both = "(" + a + " " + first->op + " " + x + ") && (" + x + " " + op + " ...)";
      error(tok.loc(), "comparisons do not chain: this compares the bool of '" + a + " " + first->op + " " + x +
                           "' with what follows; write " + both +
                           (isOrdering(first->op) && isOrdering(op)
                                ? std::string()
                                : ", or (" + a + " " + first->op + " " + x + ") " + op + " ... to compare the bool"));
      return nullptr;
    }
    llvm::SMLoc opLoc = tok.loc();
    advance();
    ExprPtr rhs = parseBinary(prec + 1); // all binary operators are left-associative
    if (!rhs) return nullptr;
    // a == b < c: the ordering binds first, so its chain is on the right.
    if (const BinaryExpr *second = isComparison(op) ? bareComparison(rhs.get()) : nullptr) {
      std::string b(second->lhs->range.Start.getPointer(), second->lhs->range.End.getPointer());
      error(opLoc, "comparisons do not chain: '" + op + "' compares with the bool of what follows it; write "
                               "(... " + op + " " + b + ") && (" + b + " " + second->op + " ...), or ... " + op +
                               " (" + b + " " + second->op + " ...) to compare with the bool");
      return nullptr;
    }
    llvm::SMRange r(lhs->range.Start, rhs->range.End);
    lhs = bounded(std::make_unique<BinaryExpr>(r, op, opLoc, std::move(lhs), std::move(rhs)), opLoc);
  }
  return lhs;
}

ExprPtr Parser::parseUnary() {
  struct DepthGuard {
    unsigned &d;
    explicit DepthGuard(unsigned &counter) : d(counter) { ++d; }
    ~DepthGuard() { --d; }
  } guard(depth);
  if (depth > kMaxDepth) {
    error(tok.loc(), "expression is nested too deeply (more than " + llvm::Twine(kMaxDepth) + " levels)");
    return nullptr;
  }
  if (tok.is(Tok::Minus) || tok.is(Tok::Bang)) {
    llvm::SMLoc start = tok.loc();
    std::string op = tok.text.str();
    advance();
    ExprPtr x = parseUnary();
    if (!x) return nullptr;
    return bounded(std::make_unique<UnaryExpr>(rangeFrom(start), op, start, std::move(x)), start);
  }
  ExprPtr p = parsePrimary();
  return p ? parsePostfix(std::move(p)) : nullptr;
}

bool Parser::parseIndexItem(IndexItem &item) {
  llvm::SMLoc start = tok.loc();
  // NumPy's x[..., 0] said only "expected an expression, found '..'".
  if (Token next = lexer.peek(); tok.is(Tok::DotDot) && next.is(Tok::Dot) && next.loc() == tok.endLoc()) {
    error(tok.loc(), "an index names every axis: there is no ellipsis (...); write ':' for each axis it would "
                     "stand for (x[..., 0] of a rank-3 x is x[:, :, 0])");
    return false;
  }
  if (!tok.is(Tok::Colon) && !(item.start = parseExpr())) return false;
  if (consume(Tok::Colon)) {
    item.isSlice = true;
    // x[:, ::2] and x[:, 1:6:2] (a strided convolution) said "expected an
    // expression, found ':'" and "expected ']'".
    auto noStep = [&] {
      error(tok.loc(), "a slice is lo:hi, with no step; for every k-th element, reshape the axis into [n // k, k] and "
                       "index the last, as reshape(x, [B, n // k, k])[:, :, 0]");
      return false;
    };
    if (tok.is(Tok::Colon)) return noStep();
    if (!tok.is(Tok::Comma) && !tok.is(Tok::RBracket) && !(item.stop = parseExpr())) return false;
    if (tok.is(Tok::Colon)) return noStep();
  }
  item.range = rangeFrom(start);
  return true;
}

ExprPtr Parser::parsePostfix(ExprPtr base) {
  // A chain a.b[i].f(x)... is built in a loop but nests in the tree.
  while (base) {
    llvm::SMLoc start = base->range.Start, at = tok.loc();
    if (tok.is(Tok::LBracket)) {
      advance();
      std::vector<IndexItem> items;
      while (!tok.is(Tok::RBracket)) {
        IndexItem it;
        if (!parseIndexItem(it)) return nullptr;
        items.push_back(std::move(it));
        if (!consume(Tok::Comma)) break;
      }
      if (!expectClosing(Tok::RBracket, "']'", at)) return nullptr;
      // x[] read as x itself, and fc[].linear(x) as fc.linear(x).
      if (items.empty()) {
        error(at, "empty brackets index nothing: write x[i], x[a:b] or x[:, j], or leave the brackets out");
        return nullptr;
      }
      base = bounded(std::make_unique<IndexExpr>(rangeFrom(start), std::move(base), std::move(items)), at);
    } else if (tok.is(Tok::Dot)) {
      advance();
      std::string member = tok.text.str();
      llvm::SMLoc memberLoc = tok.loc();
      if (!expect(Tok::Ident, "a name after '.'")) return nullptr;
      if (llvm::SMLoc open = tok.loc(); consume(Tok::LParen)) {
        std::vector<Arg> args;
        if (!parseArgs(args, open)) return nullptr;
        base = bounded(std::make_unique<CallExpr>(rangeFrom(start), member, memberLoc, std::move(base), std::move(args)), at);
      } else {
        base = bounded(std::make_unique<MemberExpr>(rangeFrom(start), std::move(base), member), at);
      }
    } else if (tok.is(Tok::LParen)) {
      auto *name = llvm::dyn_cast<NameExpr>(base.get());
      if (!name) {
        // acts[i](h) was refused with "only a function can be called",
        // though acts[i] may well be one: what is refused is the form.
        error(tok.loc(), "a call takes a function's name before '(', not an expression: name the function first "
                         "(f = ..., then f(...))");
        return nullptr;
      }
      advance();
      std::vector<Arg> args;
      if (!parseArgs(args, at)) return nullptr;
      base = bounded(std::make_unique<CallExpr>(rangeFrom(start), name->name, name->loc(), nullptr, std::move(args)), at);
    } else {
      return base;
    }
  }
  return nullptr;
}

std::string stringLiteralValue(llvm::StringRef quoted) {
  std::string out;
  llvm::StringRef s = quoted.drop_front().drop_back();
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      c = s[++i];
      if (c == 'n') c = '\n';
      else if (c == 't') c = '\t';
    }
    out += c;
  }
  return out;
}

/// A literal as a message quotes it: a 100,000-digit one came out in full.
static std::string shownLiteral(llvm::StringRef text) {
  if (text.size() <= 40) return text.str();
  return (text.take_front(24) + "... (" + llvm::Twine(text.size()) + " characters)").str();
}

ExprPtr Parser::parsePrimary() {
  llvm::SMLoc start = tok.loc();
  llvm::SMRange r(tok.loc(), tok.endLoc());
  switch (tok.kind) {
  case Tok::Int: {
    // Compile-time integers are 64-bit (-D reads the same literals).
    unsigned long long iv;
    if (llvm::getAsUnsignedInteger(tok.text, 10, iv) || iv > uint64_t(INT64_MAX)) {
      error(tok.loc(), "integer '" + shownLiteral(tok.text) + "' is too large: integers are 64-bit, at most " + llvm::Twine(INT64_MAX));
      return nullptr;
    }
    advance();
    return std::make_unique<NumberExpr>(r, int64_t(iv));
  }
  case Tok::Float: {
    double v = std::strtod(tok.text.str().c_str(), nullptr);
    // 1e999 would be infinity: a learning rate or scale that silently
    // ruins training.
    if (!std::isfinite(v)) {
      error(tok.loc(), "number '" + shownLiteral(tok.text) + "' is too large");
      return nullptr;
    }
    // 1e-999 read as 0 in silence (an eps that divides by zero). Smaller
    // than f64's least subnormal, 4.9e-324.
    if (v == 0 && tok.text.take_until([](char c) { return c == 'e' || c == 'E'; }).find_first_of("123456789") !=
                      llvm::StringRef::npos) {
      error(tok.loc(), "number '" + shownLiteral(tok.text) + "' is too small: it would be 0 (the least positive number is 4.9e-324)");
      return nullptr;
    }
    advance();
    return std::make_unique<NumberExpr>(r, v);
  }
  case Tok::String: {
    std::string s = stringLiteralValue(tok.text);
    advance();
    return std::make_unique<StringExpr>(r, s);
  }
  case Tok::KwTrue:
  case Tok::KwFalse: {
    bool v = tok.is(Tok::KwTrue);
    advance();
    return std::make_unique<BoolExpr>(r, v);
  }
  case Tok::KwNone: advance(); return std::make_unique<NoneExpr>(r);
  case Tok::Ident: {
    std::string n = tok.text.str();
    advance();
    // `lambda y: y * 2`: Python's anonymous function.
    if (n == "lambda" && (tok.is(Tok::Ident) || tok.is(Tok::Colon))) {
      error(r.Start, "there is no lambda: define fn name(y) { return ... } at the top level and pass its name");
      return nullptr;
    }
    return std::make_unique<NameExpr>(r, n);
  }
  case Tok::LParen: {
    advance();
    ExprPtr e = parseExpr();
    if (!e) return nullptr;
    // (0, 1): a tuple, as Python and PyTorch write axes; ours are lists.
    if (tok.is(Tok::Comma)) {
      error(tok.loc(), "expected ')', found ','; parentheses group one expression, and there are no tuples: write a "
                       "list of several values, such as axes, in brackets: [0, 1]");
      noteOpening(start, diag.errorCount() - 1);
      return nullptr;
    }
    if (!expectClosing(Tok::RParen, "')'", start)) return nullptr;
    e->range = rangeFrom(start);
    return e;
  }
  case Tok::LBracket: {
    advance();
    std::vector<ExprPtr> items;
    while (!tok.is(Tok::RBracket)) {
      ExprPtr e = parseExpr();
      if (!e) return nullptr;
      items.push_back(std::move(e));
      if (!consume(Tok::Comma)) break;
    }
    if (!expectClosing(Tok::RBracket, "']' to close the list", start)) return nullptr;
    return bounded(std::make_unique<ListExpr>(rangeFrom(start), std::move(items)), start);
  }
  default: {
    bool atEnd = tok.is(Tok::Newline) || tok.is(Tok::Eof);
    // x ** 2 reads as x * (* 2).
    bool power = tok.is(Tok::Star) && tok.loc() == prevEnd && prevEnd.getPointer()[-1] == '*';
    error(atEnd ? prevEnd : tok.loc(),
          "expected an expression, found " + (atEnd ? tokSpelling(tok.kind).str() : "'" + tok.text.str() + "'") +
              (power ? "; a power is written pow(x, y)" : ""));
    return nullptr;
  }
  }
}

} // namespace gradc
