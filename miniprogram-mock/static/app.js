/*
 * The mini-program mock: the pages a resident sees on the phone, as a single-page app.
 *
 * It uses only the resident API (design.md section 6, under /api/mp/v1/) and two stand-ins for
 * the phone's WeChat functions, served by miniprogram-mock/server.py on the same origin:
 *   /wx/login            wx.login(): a one-time code for this device's WeChat user
 *   /wx/request-payment  wx.requestPayment(): pays with the order's signed `pay` parameters
 *   /wx/cancel           the payer backs out of WeChat's payment sheet
 *   /wx/subscribe        wx.requestSubscribeMessage(): the one-time message templates offered
 *
 * Pages (hash routes): #/ start (village), #/find, #/person/<ref>, #/basket, #/result/<order_no>,
 * #/receipt/<order_no>, #/mine.
 * Money arrives as integer fen and is only ever formatted with integer arithmetic.
 */
"use strict";

(function () {
  // ---------------------------------------------------------------------------------------------
  // Storage: what the mini-program keeps on the phone (wx.setStorageSync).

  var KEYS = {
    user: "mp.user", // this device's WeChat user (the wx.login stand-in needs a name)
    token: "mp.token", // {token, expires_at}
    village: "mp.village", // {code, name, full_name}
    basket: "mp.basket", // [{ref, enrollee_ref, name_masked, id_number_masked, scheme, period_year, grade_yuan, payable_fen}]
    people: "mp.people", // {enrollee_ref: lookup answer}
    submission: "mp.submission", // {body, key}: the Idempotency-Key of the basket being ordered
  };

  function load(key, fallback) {
    try {
      var value = window.localStorage.getItem(key);
      return value === null ? fallback : JSON.parse(value);
    } catch (e) {
      return fallback;
    }
  }

  function save(key, value) {
    try {
      if (value === null || value === undefined) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, JSON.stringify(value));
    } catch (e) {
      /* storage full or disabled: the page still works for this visit */
    }
  }

  function randomHex(bytes) {
    var data = new Uint8Array(bytes);
    window.crypto.getRandomValues(data);
    return Array.prototype.map
      .call(data, function (b) {
        return (b < 16 ? "0" : "") + b.toString(16);
      })
      .join("");
  }

  // ---------------------------------------------------------------------------------------------
  // Words and numbers.

  var SCHEME = { pension: "城乡居民基本养老保险", medical: "城乡居民基本医疗保险" };
  var SCHEME_SHORT = { pension: "养老保险", medical: "医疗保险" };
  var REG_STATUS = {
    unpaid: "未缴费",
    pending: "支付中",
    paid: "已缴费",
    treasury_entered: "已入库",
  };
  var ORDER_STATUS = {
    created: "待支付",
    paid: "缴费成功",
    closed: "已关闭",
    refund_due: "退款中",
    refunded: "已退款",
  };
  // An order's status as the payer reads it: a closed order the payer cancelled says so.
  function orderStatusText(order) {
    if (order.status === "closed" && order.status_reason === "cancelled") return "已取消";
    return ORDER_STATUS[order.status] || order.status;
  }
  var MAX_ITEMS = 10; // the server's limit per order

  function schemeName(scheme) {
    return SCHEME[scheme] || scheme;
  }

  /** Integer fen to "¥1,234.50", with integer arithmetic only. */
  function yuan(fen) {
    if (typeof fen !== "number" || !Number.isInteger(fen)) return "—";
    var negative = fen < 0;
    var abs = Math.abs(fen);
    var whole = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var cents = abs % 100;
    return (negative ? "-" : "") + "¥" + whole + "." + (cents < 10 ? "0" : "") + cents;
  }

  function pad2(n) {
    return (n < 10 ? "0" : "") + n;
  }

  /** An ISO timestamp shown in Beijing time: "2019年11月05日 20:40". */
  function beijingTime(iso) {
    if (!iso) return "";
    var ms = Date.parse(iso);
    if (isNaN(ms)) return String(iso);
    var d = new Date(ms + 8 * 3600 * 1000);
    return (
      d.getUTCFullYear() + "年" + pad2(d.getUTCMonth() + 1) + "月" + pad2(d.getUTCDate()) + "日 " +
      pad2(d.getUTCHours()) + ":" + pad2(d.getUTCMinutes())
    );
  }

  function beijingClock(iso) {
    var text = beijingTime(iso);
    return text.slice(-5);
  }

  /** "2019-09-01" to "2019年9月1日", written as the server's own sentences write a date. */
  function chineseDate(isoDate) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(isoDate || "");
    return m ? m[1] + "年" + +m[2] + "月" + +m[3] + "日" : "";
  }

  // ---------------------------------------------------------------------------------------------
  // Input checks, before anything is sent.

  /** Spaces out, full-width digits to ASCII, x to X: what people type on a phone keyboard. */
  function normaliseIdNumber(value) {
    return String(value || "")
      .replace(/[\s\u3000-]/g, "")
      .replace(/[\uff10-\uff19]/g, function (c) {
        return String.fromCharCode(c.charCodeAt(0) - 0xfee0);
      })
      .replace(/[x\uff58\uff38]/g, "X");
  }

  var ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var ID_CHECK = "10X98765432";

  /** "" when the ID number is well formed, else what is wrong, in words. */
  function idNumberProblem(number) {
    if (!number) return "请输入身份证号";
    if (!/^[0-9X]+$/.test(number)) return "身份证号只能由数字和末位的X组成";
    if (number.length !== 18) return "身份证号应为18位，您输入了" + number.length + "位";
    if (!/^\d{17}[\dX]$/.test(number)) return "身份证号只有最后一位可以是X";
    var year = +number.slice(6, 10);
    var month = +number.slice(10, 12);
    var day = +number.slice(12, 14);
    var born = new Date(Date.UTC(year, month - 1, day));
    if (
      year < 1900 ||
      born.getUTCFullYear() !== year ||
      born.getUTCMonth() !== month - 1 ||
      born.getUTCDate() !== day
    ) {
      return "身份证号中的出生日期（第7至14位）不正确，请核对";
    }
    if (born.getTime() > Date.now()) return "身份证号中的出生日期晚于今天，请核对";
    var sum = 0;
    for (var i = 0; i < 17; i++) sum += +number[i] * ID_WEIGHTS[i];
    if (ID_CHECK[sum % 11] !== number[17]) {
      return "身份证号校验位（最后一位）不正确，请逐位核对号码";
    }
    return "";
  }

  /** Spaces out; the many look-alike middle dots of minority names become "·". */
  function normaliseName(value) {
    return String(value || "")
      .replace(/[\s\u3000]+/g, "")
      .replace(/[\u2022\u2027\u30fb\uff65\u00b7\u318d\u2219]/g, "·");
  }

  var HAN_OR_DOT = /^[\p{Script=Han}·]+$/u;

  function nameProblem(name) {
    if (!name) return "请输入姓名";
    var length = Array.from(name).length;
    if (!HAN_OR_DOT.test(name)) return "姓名只能填写汉字（少数民族姓名可用“·”分隔）";
    if (length < 2) return "姓名至少2个字，请填写身份证上的全名";
    if (length > 20) return "姓名最多20个字";
    if (/^·|·$|··/.test(name)) return "姓名中“·”的位置不正确";
    return "";
  }

  // ---------------------------------------------------------------------------------------------
  // Talking to the server.

  function ApiError(status, message, body) {
    this.status = status;
    this.message = message;
    this.body = body || null;
  }
  ApiError.prototype = Object.create(Error.prototype);

  var HAS_CHINESE = /\p{Script=Han}/u;

  /** The words a person reads for an answer that is not a success. */
  function plainWords(status, body, headers) {
    if (status === 429) {
      // The server's words name its limit ("10 per minute"); say when to come back instead.
      var wait = parseInt((headers && headers.get("Retry-After")) || "", 10);
      return "操作太频繁，请" + (wait > 0 && wait < 3600 ? wait + "秒后" : "稍后") + "再试。";
    }
    var message = body && typeof body.message === "string" ? body.message : "";
    if (message && HAS_CHINESE.test(message)) return message;
    if (status === 0) return "网络连接失败，请检查手机网络后重试。";
    if (status === 401) return "登录已失效，请重新进入小程序。";
    if (status === 404) return "没有找到相关信息，请核对后重试。";
    if (status === 409) return "该项目的状态已变化，请重新查询后再试。";
    if (status === 413) return "提交的内容过长，请检查后重试。";
    if (status >= 400 && status < 500) return "填写的内容有误，请检查后重试。";
    return "服务暂时不可用，请稍后再试。（错误代码 " + status + "）";
  }

  /** One HTTP exchange; resolves {status, body, headers}; a network failure is status 0. */
  function exchange(method, path, body, headers) {
    var init = { method: method, headers: Object.assign({ Accept: "application/json" }, headers) };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return window
      .fetch(path, init)
      .then(function (response) {
        return response.text().then(function (text) {
          var parsed = null;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch (e) {
            parsed = null;
          }
          return { status: response.status, body: parsed, headers: response.headers };
        });
      })
      .catch(function () {
        return { status: 0, body: null, headers: new Headers() };
      });
  }

  function deviceUser() {
    var user = load(KEYS.user, null);
    if (!user) {
      user = "device-" + randomHex(8);
      save(KEYS.user, user);
    }
    return user;
  }

  var signingIn = null;

  /** wx.login() then POST /session: a token for this device's WeChat user. */
  function signIn() {
    if (signingIn) return signingIn;
    signingIn = exchange("POST", "/wx/login", { user: deviceUser() })
      .then(function (login) {
        if (login.status !== 200 || !login.body || !login.body.code) {
          throw new ApiError(login.status || 0, "微信登录失败，请检查网络后重试。");
        }
        return exchange("POST", "/api/mp/v1/session", { code: login.body.code });
      })
      .then(function (session) {
        if (session.status !== 200 || !session.body || !session.body.token) {
          throw new ApiError(session.status, plainWords(session.status, session.body), session.body);
        }
        var expiresIn = Number(session.body.expires_in) || 3600;
        var token = { token: session.body.token, expires_at: Date.now() + (expiresIn - 60) * 1000 };
        save(KEYS.token, token);
        return token.token;
      });
    signingIn.then(
      function () {
        signingIn = null;
      },
      function () {
        signingIn = null;
      }
    );
    return signingIn;
  }

  function currentToken() {
    var saved = load(KEYS.token, null);
    if (saved && saved.token && saved.expires_at > Date.now()) return Promise.resolve(saved.token);
    return signIn();
  }

  /** A resident API call with the session token; signs in again once when the server says 401. */
  function api(method, path, body, headers) {
    function attempt(token) {
      return exchange(method, path, body, Object.assign({ Authorization: "Bearer " + token }, headers));
    }
    return currentToken()
      .then(attempt)
      .then(function (answer) {
        if (answer.status !== 401) return answer;
        save(KEYS.token, null);
        return signIn().then(attempt);
      })
      .then(function (answer) {
        if (answer.status < 200 || answer.status >= 300) {
          throw new ApiError(
            answer.status, plainWords(answer.status, answer.body, answer.headers), answer.body);
        }
        return answer;
      });
  }

  function errorText(error) {
    if (error instanceof ApiError) return error.message;
    return "出了点问题，请稍后再试。";
  }

  // ---------------------------------------------------------------------------------------------
  // The page: a small element builder (text always goes in as text, never as HTML).

  function h(tag, props) {
    var el = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (key) {
        var value = props[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "class") el.className = value;
        else if (key === "text") el.textContent = value;
        else if (key.slice(0, 2) === "on") el.addEventListener(key.slice(2), value);
        else if (value === true) el.setAttribute(key, "");
        else el.setAttribute(key, String(value));
      });
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  /** put(el, child, ...): appends the children, leaving out null, undefined and false. */
  function put(el) {
    for (var i = 1; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  /** refill(el, child, ...): the children replace what el held. */
  function refill(el) {
    el.replaceChildren();
    for (var i = 1; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) {
      child.forEach(function (c) {
        append(el, c);
      });
    } else {
      el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  var view = document.getElementById("view");
  var navTitle = document.getElementById("nav-title");
  var navBack = document.getElementById("nav-back");
  var sheetRoot = document.getElementById("sheet-root");
  var toastBox = document.getElementById("toast");

  var state = {
    seq: 0, // bumped on every page change; late answers for an old page are dropped
    timers: [],
    qrVillage: null, // ?village= from the QR link, until the start page has read it
    openSheetFor: null, // order_no whose payment sheet opens when its page shows
    paying: {}, // order_no -> true once wx.requestPayment said ok
    cancelled: {}, // order_no -> true once the payer backed out of the payment sheet
    pickVillage: false, // the start page shows the village picker even with a village chosen
    qrProblem: null, // why the QR code's village could not be used
  };

  function setPage(title, backTo) {
    document.title = title + " - 城乡居民两险缴费";
    navTitle.textContent = title;
    navBack.hidden = !backTo;
    navBack.onclick = backTo
      ? function () {
          go(backTo);
        }
      : null;
    view.replaceChildren();
    window.scrollTo(0, 0);
  }

  function go(hash) {
    if (location.hash === hash) render();
    else location.hash = hash;
  }

  function later(seq, fn, ms) {
    var timer = window.setTimeout(function () {
      if (seq === state.seq) fn();
    }, ms);
    state.timers.push(timer);
  }

  function hideToast() {
    window.clearTimeout(toast.timer);
    toastBox.hidden = true;
  }

  function toast(text) {
    toastBox.textContent = text;
    toastBox.hidden = false;
    window.clearTimeout(toast.timer);
    toast.timer = window.setTimeout(function () {
      toastBox.hidden = true;
    }, 1500);
  }

  function alertBox(kind, title, text) {
    return h("div", { class: "alert alert-" + kind, role: kind === "error" ? "alert" : null },
      title ? h("strong", { text: title }) : null, text);
  }

  function loading(text) {
    return h("p", { class: "loading" }, h("span", { class: "spinner" }), text || "正在加载…");
  }

  function failure(error, retry) {
    return h("div", { class: "card" },
      alertBox("error", "没能完成", errorText(error)),
      h("button", { type: "button", class: "btn btn-primary", onclick: retry }, "重试"),
      h("a", { class: "btn btn-plain", href: "#/" }, "返回首页"));
  }

  // ---------------------------------------------------------------------------------------------
  // The basket: items of several people, paid in one order.

  function basket() {
    var items = load(KEYS.basket, []);
    return Array.isArray(items) ? items : [];
  }

  function saveBasket(items) {
    save(KEYS.basket, items);
  }

  function basketTotal(items) {
    return items.reduce(function (sum, item) {
      return sum + item.payable_fen;
    }, 0);
  }

  function inBasket(ref) {
    return basket().filter(function (item) {
      return item.ref === ref;
    })[0];
  }

  function bottomBar() {
    var items = basket();
    if (!items.length) return null;
    return h("div", { class: "bottom-bar", id: "basket-bar" },
      h("div", { class: "summary" }, "待缴清单 " + items.length + " 项", h("br"),
        "合计 ", h("b", { text: yuan(basketTotal(items)) })),
      h("a", { class: "btn btn-primary", href: "#/basket", id: "to-basket" }, "去缴费"));
  }

  function people() {
    return load(KEYS.people, {}) || {};
  }

  /** Keep the looked-up registrations in step with what happened to them since. */
  function markRegistrations(refs, status) {
    var all = people();
    Object.keys(all).forEach(function (key) {
      (all[key].registrations || []).forEach(function (reg) {
        if (refs.indexOf(reg.ref) >= 0) reg.status = status;
      });
    });
    save(KEYS.people, all);
  }

  // ---------------------------------------------------------------------------------------------
  // Start: the village, from the QR code or picked.

  function fetchRegions(parent) {
    return api("GET", "/api/mp/v1/regions" + (parent ? "?parent=" + parent : "")).then(function (a) {
      return Array.isArray(a.body) ? a.body : [];
    });
  }

  function byCode(list, code) {
    return list.filter(function (r) {
      return r.code === code;
    })[0];
  }

  /** A 12-digit village code to {code, name, full_name}, or null when there is no such village. */
  function resolveVillage(code) {
    if (!/^\d{12}$/.test(code)) return Promise.resolve(null);
    var county = code.slice(0, 6) + "000000";
    var township = code.slice(0, 9) + "000";
    return Promise.all([fetchRegions(null), fetchRegions(county), fetchRegions(township)]).then(
      function (lists) {
        var c = byCode(lists[0], county);
        var t = byCode(lists[1], township);
        var v = byCode(lists[2], code);
        if (!c || !t || !v || v.level !== "village") return null;
        return { code: code, name: v.name, full_name: c.name + t.name + v.name };
      },
      function (error) {
        if (error instanceof ApiError && (error.status === 404 || error.status === 422)) return null;
        throw error;
      }
    );
  }

  function startPage(seq) {
    setPage("城乡居民两险缴费", null);
    if (state.qrVillage !== null) {
      var code = state.qrVillage;
      put(view, loading("正在识别村里的二维码…"));
      resolveVillage(code).then(
        function (village) {
          if (seq !== state.seq) return;
          state.qrVillage = null;
          if (village) {
            village.from_qr = true;
            save(KEYS.village, village);
            state.qrProblem = null;
          } else {
            state.qrProblem = "二维码中的村代码“" + code.slice(0, 20) + "”不在村名单中，请在下面选择您所在的村。";
          }
          render();
        },
        function (error) {
          if (seq !== state.seq) return;
          refill(view, failure(error, render));
        }
      );
      return;
    }
    var village = load(KEYS.village, null);
    put(view,
      h("div", { class: "hero" },
        h("h2", { text: "城乡居民两险缴费" }),
        h("p", { text: "养老保险 · 医疗保险，在手机上为自己和家人缴费" })));
    if (state.qrProblem) put(view, alertBox("warn", "二维码无法识别", state.qrProblem));
    var villageCard = h("div", { class: "card", id: "village-card" });
    put(view, villageCard);
    if (village && !state.pickVillage) {
      put(villageCard,
        h("div", { class: "muted", text: "您所在的村（社区）" }),
        h("div", { class: "village-name", id: "village-name", text: village.full_name }),
        village.from_qr ? h("div", { class: "village-from", text: "✓ 已按村里张贴的二维码选定" }) : null,
        h("button", {
          type: "button", class: "btn btn-plain btn-small", id: "change-village",
          onclick: function () { state.pickVillage = true; render(); },
        }, "更换村（社区）"));
    } else {
      put(villageCard, h("h2", { text: "请选择您所在的村（社区）" }));
      villagePicker(seq, villageCard, village);
    }
    put(view,
      h("a", {
        class: "btn btn-primary", id: "start-find", href: "#/find",
        "aria-disabled": village ? null : "true",
        onclick: function (event) {
          if (!load(KEYS.village, null)) {
            event.preventDefault();
            var said = document.getElementById("village-error");
            if (said) said.textContent = "请先选择您所在的村（社区）";
            else toast("请先选择您所在的村（社区）");
          } else {
            state.pickVillage = false;
          }
        },
      }, "查找参保人并缴费"),
      h("a", { class: "btn btn-secondary", href: "#/mine", id: "to-mine" }, "我的缴费记录"),
      h("div", { class: "card", style: "margin-top:12px" },
        h("h3", { text: "缴费须知" }),
        h("ol", { class: "steps" },
          h("li", { text: "请准备好参保人的身份证号和姓名。" }),
          h("li", { text: "可一次为多位家人缴费：查到一人后，选择“为家人查询缴费”。" }),
          h("li", { text: "缴费成功后可查看缴费凭证，税务入库后显示税票号。" }))));
    append(view, bottomBar());
  }

  function villagePicker(seq, card, current) {
    var error = h("div", { class: "field-error", id: "village-error" });
    function select(id, label, placeholder) {
      var el = h("select", { id: id, disabled: true }, h("option", { value: "", text: placeholder }));
      put(card, h("div", { class: "field" }, h("label", { for: id, text: label }), el));
      return el;
    }
    var county = select("pick-county", "县（市、区）", "请选择县（市、区）");
    var township = select("pick-township", "乡（镇、街道）", "请先选择县（市、区）");
    var village = select("pick-village", "村（社区）", "请先选择乡（镇、街道）");
    put(card, error);
    if (current) {
      put(card, h("button", {
        type: "button", class: "btn btn-plain btn-small",
        onclick: function () { state.pickVillage = false; render(); },
      }, "不更换，仍选 " + current.full_name));
    }

    function fill(el, list, placeholder) {
      refill(el, h("option", { value: "", text: placeholder }));
      list.forEach(function (r) {
        put(el, h("option", { value: r.code, text: r.name }));
      });
      el.disabled = !list.length;
    }
    function reset(el, placeholder) {
      fill(el, [], placeholder);
    }
    function loadInto(el, parent, placeholder) {
      error.textContent = "";
      return fetchRegions(parent).then(
        function (list) {
          if (seq !== state.seq) return;
          fill(el, list, list.length ? placeholder : "（暂无可选项）");
        },
        function (e) {
          if (seq === state.seq) error.textContent = errorText(e);
        }
      );
    }
    loadInto(county, null, "请选择县（市、区）");
    county.addEventListener("change", function () {
      reset(township, "请先选择县（市、区）");
      reset(village, "请先选择乡（镇、街道）");
      if (county.value) loadInto(township, county.value, "请选择乡（镇、街道）");
    });
    township.addEventListener("change", function () {
      reset(village, "请先选择乡（镇、街道）");
      if (township.value) loadInto(village, township.value, "请选择村（社区）");
    });
    village.addEventListener("change", function () {
      if (!village.value) return;
      var name = function (el) {
        return el.options[el.selectedIndex].text;
      };
      save(KEYS.village, {
        code: village.value,
        name: name(village),
        full_name: name(county) + name(township) + name(village),
      });
      state.pickVillage = false;
      state.qrProblem = null;
      render();
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Find a person: ID number and name.

  function findPage(seq) {
    setPage("查找参保人", "#/");
    var village = load(KEYS.village, null);
    var items = basket();
    if (village) {
      put(view, h("div", { class: "card small" },
        h("span", { class: "muted", text: "所在村：" }), village.full_name, " ",
        h("a", { href: "#/", onclick: function () { state.pickVillage = true; } }, "更换")));
    }
    if (items.length) {
      put(view, alertBox("info", null,
        "待缴清单已有 " + items.length + " 项。可继续为家人查询，一起缴费。"));
    }
    var idInput = h("input", {
      id: "id-number", name: "id_number", type: "text", inputmode: "text", maxlength: 24,
      autocomplete: "off", autocapitalize: "characters", spellcheck: "false",
      placeholder: "18位身份证号码",
    });
    var nameInput = h("input", {
      id: "name", name: "name", type: "text", maxlength: 40, autocomplete: "off",
      placeholder: "与身份证上一致的姓名",
    });
    var idError = h("div", { class: "field-error", id: "id-number-error", role: "alert" });
    var nameError = h("div", { class: "field-error", id: "name-error", role: "alert" });
    var idField = h("div", { class: "field" },
      h("label", { for: "id-number", text: "身份证号" }), idInput, idError,
      h("div", { class: "field-hint", text: "末位是X的，请输入字母X" }));
    var nameField = h("div", { class: "field" },
      h("label", { for: "name", text: "姓名" }), nameInput, nameError);
    var outcome = h("div", { id: "lookup-result" });
    var button = h("button", { type: "submit", class: "btn btn-primary", id: "lookup" }, "查询");
    var form = h("form", { class: "card", novalidate: true, autocomplete: "off" },
      h("h2", { text: "请输入参保人信息" }), idField, nameField, button, outcome);
    put(view, form, familyCard());

    function checkId() {
      var number = normaliseIdNumber(idInput.value);
      if (idInput.value && number !== idInput.value) idInput.value = number;
      var problem = idNumberProblem(number);
      idError.textContent = problem;
      idField.classList.toggle("invalid", !!problem);
      return problem ? null : number;
    }
    function checkName() {
      var name = normaliseName(nameInput.value);
      if (nameInput.value && name !== nameInput.value) nameInput.value = name;
      var problem = nameProblem(name);
      nameError.textContent = problem;
      nameField.classList.toggle("invalid", !!problem);
      return problem ? null : name;
    }
    // Checked when the person leaves a field, except on the way to the 查询 button: the submit
    // checks everything, and a message appearing or going under the finger would move the button.
    idInput.addEventListener("blur", function (event) {
      if (idInput.value && event.relatedTarget !== button) checkId();
    });
    nameInput.addEventListener("blur", function (event) {
      if (nameInput.value && event.relatedTarget !== button) checkName();
    });
    [[idInput, idField, idError], [nameInput, nameField, nameError]].forEach(function (f) {
      f[0].addEventListener("input", function () {
        outcome.replaceChildren();
        f[1].classList.remove("invalid");
        f[2].textContent = "";
      });
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      outcome.replaceChildren();
      var number = checkId();
      var name = checkName();
      if (!number) return idInput.focus();
      if (!name) return nameInput.focus();
      button.disabled = true;
      button.textContent = "查询中…";
      api("POST", "/api/mp/v1/lookup", { id_number: number, name: name }).then(
        function (answer) {
          if (seq !== state.seq) return;
          var found = answer.body;
          var all = people();
          delete all[found.enrollee.ref];
          all[found.enrollee.ref] = found; // the newest last; only the last few are kept
          var refs = Object.keys(all);
          refs.slice(0, Math.max(0, refs.length - 20)).forEach(function (old) {
            delete all[old];
          });
          save(KEYS.people, all);
          go("#/person/" + found.enrollee.ref);
        },
        function (error) {
          if (seq !== state.seq) return;
          button.disabled = false;
          button.textContent = "查询";
          var fieldErrors = error.body && error.body.errors && error.body.errors.json;
          if (error.status === 422 && fieldErrors && (fieldErrors.id_number || fieldErrors.name)) {
            if (fieldErrors.id_number) {
              idError.textContent = error.message;
              idField.classList.add("invalid");
            } else {
              nameError.textContent = String(fieldErrors.name[0] || error.message);
              nameField.classList.add("invalid");
            }
            return;
          }
          var title = {
            404: "没有找到参保人",
            429: "查询太频繁",
          }[error.status] || "查询没有完成";
          refill(outcome, alertBox("error", title, errorText(error)));
        }
      );
    });
    append(view, bottomBar());
    idInput.focus();
  }

  /**
   * The household as this phone knows it: only the people looked up here by ID number and name.
   * The server never lists a household's members (nor looks anyone up by household number).
   */
  function familyCard() {
    var all = people();
    var keys = Object.keys(all).reverse(); // the newest first
    return h("div", { class: "card", id: "family" },
      h("h2", { text: "为家人缴费" }),
      h("p", { class: "small muted", text: "请逐一输入每位家人的身份证号和姓名查询，再一起加入待缴清单。" +
        "为保护个人信息，不能按户号查询或列出家庭成员。" }),
      keys.length ? h("div", { class: "small", text: "本机已查询：" }) : null,
      keys.map(function (key) {
        var person = all[key].enrollee || {};
        return h("a", { class: "family-member", href: "#/person/" + key, "data-person": key,
          style: "display:block;padding:6px 0" },
          person.name_masked + "（尾号" + String(person.id_number_masked || "").slice(-4) + "）›");
      }));
  }

  // ---------------------------------------------------------------------------------------------
  // A person's registrations: the amount, the subsidy line by line, the pension grade.

  function personPage(seq, ref) {
    setPage("缴费项目", "#/find");
    var found = people()[ref];
    if (!found) {
      put(view, h("div", { class: "card" },
        alertBox("warn", "请重新查询", "没有这位参保人的查询结果，请输入身份证号和姓名重新查询。"),
        h("a", { class: "btn btn-primary", href: "#/find" }, "查找参保人")));
      return;
    }
    var person = found.enrollee;
    var village = load(KEYS.village, null);
    put(view, h("div", { class: "card", id: "person" },
      h("div", { class: "person-name", text: person.name_masked }),
      h("div", { class: "muted", text: "身份证号 " + person.id_number_masked }),
      h("div", { class: "muted", text: "参保地 " + ((person.village && person.village.full_name) || "") }),
      village && person.village && village.code !== person.village.code
        ? alertBox("info", null, "提示：该参保人登记在" + person.village.full_name + "，与您选择的村不同，可以照常缴费。")
        : null));
    var registrations = found.registrations || [];
    if (!registrations.length) {
      put(view, alertBox("warn", "没有参保登记", "该参保人暂无可缴费的参保登记，请联系村（社区）协办员。"));
    }
    var payable = 0;
    var blocked = 0;
    registrations.forEach(function (reg) {
      var card = registrationCard(seq, person, reg);
      if (card.payable) payable++;
      if (card.blocked) blocked++;
      put(view, card.el);
    });
    if (registrations.length && !payable && !blocked) {
      put(view, alertBox("ok", "无需缴费", "该参保人本年度没有需要缴费的项目。"));
    }
    put(view, h("a", { class: "btn btn-secondary", href: "#/find", id: "find-another" },
      "＋ 为家人查询缴费"));
    append(view, bottomBar());
  }

  /**
   * One registration's card. Whether it can be paid is the server's word (payable_now): only the
   * server knows today's date in the collection season. {el, payable, blocked}: blocked when it is
   * unpaid and owes money but cannot be paid now (outside the collection window).
   */
  function registrationCard(seq, person, reg) {
    var status = reg.status;
    var paid = status === "paid" || status === "treasury_entered";
    var open = status === "unpaid" && !reg.ineligible_reason;
    var grades = reg.scheme === "pension" ? reg.grades || [] : [];
    var owesSomething = grades.length
      ? grades.some(function (g) { return g.payable_fen > 0; })
      : reg.payable_fen > 0;
    var canPay = open && reg.payable_now === true;
    var govPaysAll = open && !canPay && !owesSomething;
    var el = h("div", {
      class: "card registration" + (paid ? " is-paid" : canPay ? "" : " is-off"),
      "data-ref": reg.ref, "data-scheme": reg.scheme,
    });
    put(el, h("div", { class: "row row-top" },
      h("div", null, h("h3", { text: schemeName(reg.scheme) }),
        h("div", { class: "year", text: reg.period_year + "年度" })),
      govPaysAll
        ? h("span", { class: "badge badge-paid", text: "政府代缴" })
        : h("span", { class: "badge badge-" + status, text: REG_STATUS[status] || status })));

    if (paid) {
      put(el, h("p", { class: "done-note", text: "✓ 本年度已缴费，无需重复缴纳" }));
      return { el: el, payable: false };
    }
    if (status === "pending") {
      put(el, h("p", { class: "off-note" },
        "正在另一笔订单中支付。如果是您发起的，请到“",
        h("a", { href: "#/mine", text: "我的缴费记录" }), "”中继续支付；否则请等订单关闭（约30分钟）后再缴。"));
      return { el: el, payable: false };
    }
    if (reg.ineligible_reason) {
      put(el, h("p", { class: "off-note", text: reg.ineligible_reason }));
      return { el: el, payable: false };
    }
    if (govPaysAll) {
      put(el,
        breakdownTable(reg, reg.breakdown),
        h("p", { class: "done-note", text: "由政府全额代缴，个人无需缴费" }));
      return { el: el, payable: false };
    }
    if (!canPay) {
      // Outside the collection window (or whatever else the server says): no way to add it.
      put(el, h("div", { class: "alert alert-warn not-payable", "data-testid": "not-payable" },
        h("strong", { text: "现在不能缴费" }),
        reg.not_payable_reason || "该项目现在不能缴费，请联系村（社区）协办员。"));
      if (inBasket(reg.ref)) {
        var stale = h("div", { class: "row stale-row" },
          h("span", { class: "off-note", text: "该项目仍在待缴清单中，请移出" }),
          h("button", {
            type: "button", class: "btn btn-danger-text btn-small", "data-action": "remove",
            onclick: function () {
              saveBasket(basket().filter(function (i) { return i.ref !== reg.ref; }));
              refreshBar();
              stale.remove();
            },
          }, "移出"));
        put(el, stale);
      }
      return { el: el, payable: false, blocked: true };
    }

    var chosen = inBasket(reg.ref);
    var grade = null;
    if (grades.length) {
      var wanted = chosen ? chosen.grade_yuan : null;
      grade = grades.filter(function (g) { return g.grade_yuan === wanted; })[0] ||
        grades.filter(function (g) { return g.payable_fen > 0; })[0];
    }
    var money = h("div");
    var action = h("div");

    if (grades.length) {
      var chips = h("div", { class: "grades", role: "group", "aria-label": "缴费档次" });
      grades.forEach(function (g) {
        put(chips, h("button", {
          type: "button", class: "grade", "data-grade": g.grade_yuan,
          "aria-pressed": String(g === grade),
          disabled: g.payable_fen <= 0 ? true : null,
          title: g.payable_fen <= 0 ? "该档次由政府代缴" : null,
          onclick: function () {
            grade = g;
            Array.prototype.forEach.call(chips.children, function (chip) {
              chip.setAttribute("aria-pressed", String(+chip.getAttribute("data-grade") === g.grade_yuan));
            });
            var item = inBasket(reg.ref);
            if (item) {
              var items = basket().map(function (i) {
                return i.ref === reg.ref ? Object.assign(i, { grade_yuan: g.grade_yuan, payable_fen: g.payable_fen }) : i;
              });
              saveBasket(items);
              refreshBar();
            }
            drawMoney();
          },
        }, g.grade_yuan + "元"));
      });
      var free = grades.filter(function (g) { return g.payable_fen <= 0; })[0];
      put(el, h("div", { class: "grades-title", text: "选择缴费档次（元/年）" }), chips,
        free ? h("div", { class: "field-hint", text: free.grade_yuan + "元档由政府全额代缴，个人无需缴费，不必在这里办理；选更高档次只需缴纳差额。" }) : null,
        h("div", { class: "field-hint", text: "档次越高，个人账户积累越多，政府缴费补贴也越多。" }));
    }
    // Payment closes at pay_until; the deadline is only the campaign's target, paid after it too.
    put(el, money,
      reg.pay_until
        ? h("div", { class: "pay-until", "data-testid": "pay-until", text: "可缴费至 " + chineseDate(reg.pay_until) })
        : null,
      reg.deadline
        ? h("div", { class: "muted", "data-testid": "target", text: "集中征缴目标：" + chineseDate(reg.deadline) + "前" })
        : null,
      action);

    function current() {
      if (grade) {
        return {
          payable_fen: grade.payable_fen,
          gov_paid_fen: grade.gov_paid_fen,
          contribution_subsidy_fen: grade.contribution_subsidy_fen,
          lines: gradeLines(reg, grade),
        };
      }
      return {
        payable_fen: reg.payable_fen,
        gov_paid_fen: reg.gov_paid_fen,
        contribution_subsidy_fen: reg.contribution_subsidy_fen,
        lines: reg.breakdown,
      };
    }
    function drawMoney() {
      var now = current();
      refill(money,
        h("div", { class: "amount-line" },
          h("span", { class: "amount-label", text: "个人应缴 " }),
          h("span", { class: "amount", "data-testid": "payable", text: yuan(now.payable_fen) })),
        breakdownTable(reg, now.lines));
      drawAction();
    }
    function drawAction() {
      var item = inBasket(reg.ref);
      if (item) {
        refill(action, h("div", { class: "row" },
          h("span", { class: "in-basket", text: "✓ 已加入待缴清单" }),
          h("button", {
            type: "button", class: "btn btn-danger-text btn-small", "data-action": "remove",
            onclick: function () {
              saveBasket(basket().filter(function (i) { return i.ref !== reg.ref; }));
              refreshBar();
              drawAction();
            },
          }, "移出")));
      } else {
        refill(action, h("button", {
          type: "button", class: "btn btn-primary", "data-action": "add",
          onclick: function () {
            var items = basket();
            if (items.length >= MAX_ITEMS) {
              toast("一次最多缴 " + MAX_ITEMS + " 项，请先支付清单中的项目");
              return;
            }
            var now = current();
            items.push({
              ref: reg.ref,
              enrollee_ref: person.ref,
              name_masked: person.name_masked,
              id_number_masked: person.id_number_masked,
              scheme: reg.scheme,
              period_year: reg.period_year,
              grade_yuan: grade ? grade.grade_yuan : null,
              payable_fen: now.payable_fen,
            });
            saveBasket(items);
            toast("已加入待缴清单");
            refreshBar();
            drawAction();
          },
        }, "加入待缴清单"));
      }
    }
    drawMoney();
    return { el: el, payable: true };
  }

  function refreshBar() {
    var old = document.getElementById("basket-bar");
    if (old) old.remove();
    append(view, bottomBar());
  }

  /** The lines of a pension grade other than the one the lookup broke down, from its numbers. */
  function gradeLines(reg, grade) {
    var label = {};
    (reg.breakdown || []).forEach(function (line) {
      label[line.kind] = line.label;
    });
    var lines = [{ kind: "gross", label: "缴费档次 " + grade.grade_yuan + "元", amount_fen: grade.grade_yuan * 100 }];
    if (grade.gov_paid_fen > 0) {
      lines.push({ kind: "gov_paid", label: label.gov_paid || "政府代缴", amount_fen: grade.gov_paid_fen });
    }
    lines.push({ kind: "payable", label: label.payable || "个人应缴", amount_fen: grade.payable_fen });
    if (grade.contribution_subsidy_fen > 0) {
      lines.push({
        kind: "contribution_subsidy",
        label: label.contribution_subsidy || "政府缴费补贴（计入个人账户，不减少应缴）",
        amount_fen: grade.contribution_subsidy_fen,
      });
    }
    return lines;
  }

  /** The breakdown, line by line; the card's heading already names the scheme and year. */
  function breakdownTable(reg, lines) {
    if (!lines || !lines.length) return null;
    var heading = schemeName(reg.scheme) + " " + reg.period_year + "年度 ";
    var table = h("table", { class: "breakdown" });
    lines.forEach(function (line) {
      var sign = line.kind === "gov_paid" ? "−" : line.kind === "contribution_subsidy" ? "+" : "";
      var label = String(line.label || "");
      if (label.indexOf(heading) === 0 && label.length > heading.length) label = label.slice(heading.length);
      put(table, h("tr", { class: "kind-" + line.kind },
        h("td", { text: label }),
        h("td", { class: "money", text: sign + yuan(line.amount_fen) })));
    });
    return table;
  }

  // ---------------------------------------------------------------------------------------------
  // The basket and the order.

  function basketPage(seq) {
    setPage("待缴清单", "#/find");
    var items = basket();
    if (!items.length) {
      put(view, h("div", { class: "card" },
        h("h2", { text: "待缴清单是空的" }),
        h("p", { class: "muted", text: "查到参保人后，把要缴费的项目加入清单，可一次为多位家人缴费。" }),
        h("a", { class: "btn btn-primary", href: "#/find" }, "查找参保人")));
      return;
    }
    var groups = [];
    items.forEach(function (item) {
      var group = groups.filter(function (g) { return g.ref === item.enrollee_ref; })[0];
      if (!group) {
        group = { ref: item.enrollee_ref, name: item.name_masked, id: item.id_number_masked, items: [] };
        groups.push(group);
      }
      group.items.push(item);
    });
    var list = h("div", { class: "card", id: "basket" },
      h("h2", { text: "本次缴费（" + groups.length + " 人，" + items.length + " 项）" }));
    groups.forEach(function (group) {
      put(list, h("div", { class: "item-person", style: "margin-top:10px" },
        h("span", { class: "person-name", style: "font-size:19px", text: group.name }), " ",
        h("span", { class: "muted", text: group.id })));
      group.items.forEach(function (item) {
        put(list, h("div", { class: "item row", "data-ref": item.ref },
          h("div", null,
            h("div", { class: "item-title", text: schemeName(item.scheme) }),
            h("div", { class: "muted", text: item.period_year + "年度" + (item.grade_yuan ? " · 档次 " + item.grade_yuan + "元" : "") })),
          h("div", { style: "text-align:right" },
            h("div", { class: "amount-small", text: yuan(item.payable_fen) }),
            h("button", {
              type: "button", class: "btn btn-danger-text btn-small", "data-action": "remove",
              onclick: function () {
                saveBasket(basket().filter(function (i) { return i.ref !== item.ref; }));
                render();
              },
            }, "移出"))));
      });
    });
    var total = basketTotal(items);
    put(list, h("div", { class: "row total-row", style: "margin-top:12px;border-top:1px solid #e5e5e5;padding-top:12px" },
      h("span", { text: "合计" }), h("span", { class: "amount", id: "basket-total", text: yuan(total) })));
    put(view, list);
    var outcome = h("div", { id: "order-result" });
    var pay = h("button", { type: "button", class: "btn btn-primary", id: "pay" }, "确认并支付 " + yuan(total));
    put(view,
      h("p", { class: "muted small", text: "金额以系统核定为准；支付前会再次显示应付金额。" }),
      outcome, pay,
      h("a", { class: "btn btn-secondary", href: "#/find", id: "find-another" }, "＋ 为家人查询缴费"));

    pay.addEventListener("click", function () {
      outcome.replaceChildren();
      pay.disabled = true;
      pay.textContent = "正在提交订单…";
      placeOrder(basket()).then(
        function (order) {
          if (seq !== state.seq) return;
          state.openSheetFor = order.order_no;
          go("#/result/" + order.order_no);
        },
        function (error) {
          if (seq !== state.seq) return;
          pay.disabled = false;
          pay.textContent = "重新提交 " + yuan(total);
          var reason = error.body && error.body.reason;
          var hint = error.status === 409 ? "请回到缴费项目重新查询该参保人，把已缴或支付中的项目移出清单。"
            : reason === "outside_window" ? "不在缴费期内的项目不能在这里缴纳，请把它移出清单，其余项目可以照常缴费。"
            : error.status === 0 ? "订单可能已经提交：请再点一次“重新提交”，不会重复下单或扣款。" : null;
          refill(outcome, alertBox("error", error.status === 0 ? "没有收到回复" : "订单没有提交成功",
            [errorText(error), hint ? h("div", { text: hint }) : null]));
        }
      );
    });
  }

  /** POST /orders: one Idempotency-Key per basket submission, the same one when retried. */
  function placeOrder(items) {
    var body = {
      items: items.map(function (item) {
        var one = { registration_ref: item.ref };
        if (item.scheme === "pension" && item.grade_yuan) one.grade_yuan = item.grade_yuan;
        return one;
      }),
      trade_type: "JSAPI",
    };
    var signature = JSON.stringify(body);
    var submission = load(KEYS.submission, null);
    if (!submission || submission.body !== signature) {
      submission = { body: signature, key: "mp-" + randomHex(16) };
      save(KEYS.submission, submission);
    }
    return api("POST", "/api/mp/v1/orders", body, { "Idempotency-Key": submission.key }).then(function (answer) {
      var order = answer.body;
      save(KEYS.submission, null);
      var ordered = order.items.map(function (i) { return i.registration_ref; });
      saveBasket(basket().filter(function (i) { return ordered.indexOf(i.ref) < 0; }));
      markRegistrations(ordered, "pending");
      return order;
    });
  }

  function fetchOrder(orderNo) {
    return api("GET", "/api/mp/v1/orders/" + encodeURIComponent(orderNo)).then(function (answer) {
      if (answer.body.status === "paid") {
        markRegistrations(answer.body.items.map(function (i) { return i.registration_ref; }), "paid");
      }
      return answer.body;
    });
  }

  /**
   * Whom an order item is for: the masked name, with the ID number's last four characters when this
   * phone looked the person up (in a family 史** may be the father or the daughter).
   */
  function whoFor(item) {
    var all = people();
    var keys = Object.keys(all);
    for (var i = 0; i < keys.length; i++) {
      var found = all[keys[i]];
      var ours = (found.registrations || []).some(function (reg) {
        return reg.ref === item.registration_ref;
      });
      if (ours && found.enrollee && found.enrollee.id_number_masked) {
        return {
          key: keys[i],
          label: item.name_masked + "（尾号" + found.enrollee.id_number_masked.slice(-4) + "）",
        };
      }
    }
    return { key: item.name_masked, label: item.name_masked };
  }

  function peopleOf(order) {
    var seen = [];
    var labels = [];
    order.items.forEach(function (item) {
      var who = whoFor(item);
      if (seen.indexOf(who.key) < 0) {
        seen.push(who.key);
        labels.push(who.label);
      }
    });
    return labels.join("、");
  }

  // ---------------------------------------------------------------------------------------------
  // wx.requestPayment: WeChat's payment sheet.

  function paymentSheet(order, onPaid, onCancel) {
    var error = h("div", { id: "sheet-error" });
    var confirm = h("button", { type: "button", class: "btn btn-primary", id: "confirm-pay" }, "确认支付");
    var cancel = h("button", { type: "button", class: "btn btn-plain", id: "cancel-pay" }, "取消");
    var close = h("button", { type: "button", class: "sheet-close", "aria-label": "关闭" }, "×");
    var sheet = h("div", { class: "mask", id: "pay-sheet", role: "dialog", "aria-label": "微信支付" },
      h("div", { class: "sheet" },
        h("div", { class: "sheet-head" }, close, "微信支付"),
        h("div", { class: "sheet-title", text: "城乡居民两险缴费" }),
        h("div", { class: "sheet-amount", id: "sheet-amount" }, h("small", { text: "¥" }), yuan(order.total_fen).slice(1)),
        h("table", { class: "kv" },
          h("tr", null, h("th", { text: "缴费人" }), h("td", { text: peopleOf(order) })),
          h("tr", null, h("th", { text: "项目" }), h("td", { text: order.items.length + " 项" })),
          h("tr", null, h("th", { text: "支付方式" }), h("td", { text: "零钱" }))),
        error, confirm, cancel,
        h("div", { class: "sheet-note", text: "演示环境：模拟微信支付，不会真实扣款" })));
    refill(sheetRoot, sheet);
    confirm.focus();

    function back() {
      exchange("POST", "/wx/cancel", { out_trade_no: order.order_no });
      closeSheet();
      onCancel();
    }
    cancel.addEventListener("click", back);
    close.addEventListener("click", back);
    confirm.addEventListener("click", function () {
      error.replaceChildren();
      confirm.disabled = true;
      cancel.disabled = true;
      confirm.textContent = "支付中…";
      exchange("POST", "/wx/request-payment", order.pay).then(function (answer) {
        var msg = answer.body && answer.body.errMsg;
        if (answer.status === 200 && msg === "requestPayment:ok") {
          closeSheet();
          onPaid();
          return;
        }
        confirm.disabled = false;
        cancel.disabled = false;
        confirm.textContent = "确认支付";
        refill(error, alertBox("error", "支付没有完成", payFailure(answer.status, msg)));
      });
    });
  }

  function payFailure(status, errMsg) {
    var reason = String(errMsg || "").replace(/^requestPayment:fail\s*/, "");
    if (status === 0) return "网络连接失败，请检查网络后重试。";
    if (/过期|expired/i.test(reason)) return "支付已超时，请关闭后重新下单。";
    if (/签名|prepay_id|package/.test(reason)) return "支付信息校验失败，请关闭后重新下单。";
    if (/已支付|ORDERPAID/i.test(reason)) return "这笔订单已经支付过了。";
    if (/关闭|CLOSED/i.test(reason)) return "订单已关闭，请重新下单。";
    return reason && HAS_CHINESE.test(reason) ? reason : "支付暂时无法完成，请稍后再试。";
  }

  function closeSheet() {
    sheetRoot.replaceChildren();
  }

  // ---------------------------------------------------------------------------------------------
  // Result: follow the order until it is paid.

  function resultPage(seq, orderNo) {
    setPage("缴费结果", "#/mine");
    put(view, loading("正在查询订单…"));
    var started = Date.now();
    function poll() {
      fetchOrder(orderNo).then(
        function (order) {
          if (seq !== state.seq) return;
          drawResult(seq, order, started, poll);
        },
        function (error) {
          if (seq !== state.seq) return;
          if (state.paying[orderNo] && error.status === 0) {
            later(seq, poll, 2000); // a network hiccup while we wait: keep following
            return;
          }
          refill(view, failure(error, render));
        }
      );
    }
    poll();
  }

  function drawResult(seq, order, started, poll) {
    var no = order.order_no;
    var box = h("div", { class: "card result", id: "result", "data-status": order.status });
    refill(view, box);
    if (order.status === "paid") {
      delete state.paying[no];
      put(box,
        h("div", { class: "result-icon", text: "✓" }),
        h("h2", { text: "缴费成功" }),
        h("div", { class: "amount", text: yuan(order.total_fen) }),
        h("p", { class: "muted", text: peopleOf(order) + " · 共 " + order.items.length + " 项" }),
        h("a", { class: "btn btn-primary", id: "to-receipt", href: "#/receipt/" + no }, "查看缴费凭证"),
        h("a", { class: "btn btn-secondary", href: "#/find" }, "继续为家人缴费"),
        h("a", { class: "btn btn-plain", href: "#/" }, "返回首页"));
      offerSubscriptions(seq, box, no);
      return;
    }
    if (order.status === "created") {
      if (state.paying[no]) {
        var slow = Date.now() - started > 60000;
        put(box,
          h("div", { class: "result-icon wait" }, h("span", { class: "spinner" })),
          h("h2", { text: "支付处理中…" }),
          h("div", { class: "amount", text: yuan(order.total_fen) }),
          h("p", { class: "muted", text: slow
            ? "微信支付结果确认较慢，请稍候。也可以稍后在“我的缴费记录”中查看，不会重复扣款。"
            : "正在等待微信支付结果，请不要重复支付。" }));
        later(seq, poll, slow ? 5000 : 1000);
        return;
      }
      put(box,
        h("div", { class: "result-icon warn", text: "!" }),
        h("h2", { text: "待支付" }),
        h("div", { class: "amount", text: yuan(order.total_fen) }),
        h("p", { class: "muted", text: peopleOf(order) + " · 共 " + order.items.length + " 项" }));
      if (order.pay) {
        put(box,
          state.cancelled[no] ? alertBox("warn", "您已取消支付", "没有扣款。订单为您保留，可随时继续支付。") : null,
          h("p", { class: "small", text: "请在 " + beijingClock(order.expires_at) + " 前完成支付，逾期订单自动关闭。" }),
          h("button", {
            type: "button", class: "btn btn-primary", id: "pay-now",
            onclick: function () { openSheet(seq, order, poll); },
          }, state.cancelled[no] ? "继续支付" : "立即支付"),
          cancelOrderButton(seq, order, poll));
      } else {
        put(box, h("p", { class: "small", text: "订单已过支付时间，正在关闭。请稍后重新查询缴费。" }));
      }
      put(box, h("a", { class: "btn btn-plain", href: "#/" }, "返回首页"));
      if (state.openSheetFor === no && order.pay) {
        state.openSheetFor = null;
        openSheet(seq, order, poll);
      }
      return;
    }
    var words = {
      closed: ["订单已关闭", "这笔订单未在规定时间内支付，已自动关闭，没有扣款。如需缴费，请重新查询后下单。"],
      refund_due: ["款项将退回", "您要缴的项目已由另一笔支付缴清，本笔款项将原路全额退回，无需操作。"],
      refunded: ["已退款", "这笔缴费已全额退回原支付账户。"],
    }[order.status] || [ORDER_STATUS[order.status] || order.status, ""];
    if (order.status === "closed" && order.status_reason === "cancelled") words = CANCELLED_WORDS;
    put(box,
      h("div", { class: "result-icon off", text: "i" }),
      h("h2", { text: words[0] }),
      h("div", { class: "amount", text: yuan(order.total_fen) }),
      h("p", { class: "small", text: words[1] }),
      order.status === "refunded" || order.status === "refund_due"
        ? h("a", { class: "btn btn-secondary", href: "#/receipt/" + no }, "查看订单详情") : null,
      order.status === "closed" && basket().length
        ? h("a", { class: "btn btn-primary", href: "#/basket", id: "back-to-basket" }, "去缴费（待缴清单）") : null,
      h("a", { class: "btn " + (order.status === "closed" && basket().length ? "btn-secondary" : "btn-primary"), href: "#/find" }, "重新查询缴费"),
      h("a", { class: "btn btn-plain", href: "#/" }, "返回首页"));
  }

  // -- Subscription messages (订阅消息): asked once per device user, after a payment ----------

  var SUBSCRIBE_ASKED = "mp.subscribeAsked"; // the device user who was asked (never nag again)

  /** Offer the three one-time templates once: wx.requestSubscribeMessage (the /wx/subscribe
   * stand-in plays WeChat's sheet), then tell the backend what was accepted, after this order. */
  function offerSubscriptions(seq, box, orderNo) {
    if (load(SUBSCRIBE_ASKED, null) === deviceUser()) return;
    api("GET", "/api/mp/v1/subscriptions").then(function (answer) {
      if (seq !== state.seq) return;
      var templates = (answer.body.templates || []).filter(function (t) { return !t.banned; });
      if (!templates.length) return;
      var card = h("div", { class: "alert", id: "subscribe-prompt" },
        h("strong", { text: "订阅缴费结果通知" }),
        h("p", { class: "small", text: templates.map(function (t) { return t.title; }).join("、") +
          "：税务入库后告诉您电子税票号码，退款到账和缴费截止前提醒您。每次订阅每项通知只发一次。" }));
      function done(text) {
        save(SUBSCRIBE_ASKED, deviceUser());
        if (card.parentNode) card.parentNode.removeChild(card);
        if (text) toast(text);
      }
      append(card, [
        h("button", { type: "button", class: "btn btn-primary", id: "subscribe-accept", onclick: function () {
          var ids = templates.map(function (t) { return t.template_id; });
          exchange("POST", "/wx/subscribe", { user: deviceUser(), tmplIds: ids }).then(function (sheet) {
            if (sheet.status !== 200 || !sheet.body) throw new ApiError(sheet.status, "订阅失败，请稍后再试。");
            var results = {};
            ids.forEach(function (id) { if (sheet.body[id]) results[id] = sheet.body[id]; });
            return api("POST", "/api/mp/v1/subscriptions", { order_no: orderNo, results: results });
          }).then(function () { done("已订阅，有结果会通知您"); }, function () { done("订阅失败，请稍后再试"); });
        } }, "订阅"),
        h("button", { type: "button", class: "btn btn-plain", id: "subscribe-skip", onclick: function () {
          done(null);
        } }, "暂不订阅"),
      ]);
      box.insertBefore(card, box.children[4] || null);
    }, function () { /* no prompt without the templates; the payment itself is done */ });
  }

  function openSheet(seq, order, poll) {
    paymentSheet(
      order,
      function () {
        state.paying[order.order_no] = true;
        if (seq === state.seq) poll();
      },
      function () {
        state.cancelled[order.order_no] = true;
        if (seq === state.seq) poll();
      }
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Cancelling an unpaid order: closed at WeChat, its items back in the basket to pay again.

  var CANCELLED_WORDS = ["订单已取消", "您已取消这笔订单，没有扣款。订单中的项目已放回待缴清单，可以重新选择档次后缴费。"];

  /** The "取消订单" button of an unpaid order; `after` runs once the order has changed. */
  function cancelOrderButton(seq, order, after) {
    var note = h("div", { class: "cancel-note" });
    var button = h("button", {
      type: "button", class: "btn btn-plain btn-danger-text", "data-action": "cancel-order",
      "data-order": order.order_no,
      onclick: function () {
        note.replaceChildren();
        confirmCancel(order, function () {
          button.disabled = true;
          button.textContent = "正在取消…";
          cancelOrder(order).then(
            function () {
              if (seq !== state.seq) return;
              toast("订单已取消，项目已放回待缴清单");
              after();
            },
            function (error) {
              if (seq !== state.seq) return;
              button.disabled = false;
              button.textContent = "取消订单";
              if (error.status === 409) {
                refill(note, alertBox("info", "无法取消", errorText(error)));
                later(seq, after, 1500); // paid meanwhile: show it as paid
                return;
              }
              refill(note, alertBox("error", "订单没有取消", errorText(error)));
            }
          );
        });
      },
    }, "取消订单");
    return h("div", { class: "cancel-order" }, button, note);
  }

  /** An in-page confirmation, like wx.showModal. */
  function confirmCancel(order, onYes) {
    var yes = h("button", { type: "button", class: "btn btn-primary", id: "confirm-cancel" }, "确定取消");
    var no = h("button", { type: "button", class: "btn btn-plain", id: "keep-order" }, "再想想");
    refill(sheetRoot, h("div", { class: "mask", id: "cancel-dialog", role: "dialog", "aria-label": "取消订单" },
      h("div", { class: "sheet" },
        h("div", { class: "sheet-title", text: "确定取消这笔订单吗？" }),
        h("p", { class: "small", text: yuan(order.total_fen) + " · " + peopleOf(order) + " · 共 " + order.items.length + " 项" }),
        h("p", { class: "muted small", text: "取消后订单关闭、不能再支付；项目会放回待缴清单，可以重新缴费。" }),
        yes, no)));
    no.focus();
    no.addEventListener("click", closeSheet);
    yes.addEventListener("click", function () {
      closeSheet();
      onYes();
    });
  }

  /** POST /orders/<no>/cancel; then the items are unpaid again and back in the basket. */
  function cancelOrder(order) {
    return api("POST", "/api/mp/v1/orders/" + encodeURIComponent(order.order_no) + "/cancel").then(function (answer) {
      var refs = answer.body.items.map(function (i) { return i.registration_ref; });
      markRegistrations(refs, "unpaid");
      backInBasket(answer.body.items);
      return answer.body;
    });
  }

  function backInBasket(orderItems) {
    var items = basket();
    var all = people();
    orderItems.forEach(function (item) {
      if (inBasket(item.registration_ref) || items.length >= MAX_ITEMS) return;
      Object.keys(all).forEach(function (key) {
        var person = all[key].enrollee || {};
        (all[key].registrations || []).forEach(function (reg) {
          if (reg.ref !== item.registration_ref) return;
          items.push({
            ref: reg.ref,
            enrollee_ref: person.ref,
            name_masked: person.name_masked,
            id_number_masked: person.id_number_masked,
            scheme: item.scheme,
            period_year: item.period_year,
            grade_yuan: item.grade_yuan,
            payable_fen: item.amount_fen,
          });
        });
      });
    });
    saveBasket(items);
  }

  // ---------------------------------------------------------------------------------------------
  // The receipt, with the tax receipt number once the treasury entry is confirmed.

  var TAX_POLL_MS = [2000, 2000, 2000, 3000, 3000, 5000, 5000, 5000, 10000]; // then every 15 s
  var TAX_POLL_FOR_MS = 10 * 60 * 1000;

  function receiptPage(seq, orderNo) {
    setPage("缴费凭证", "#/mine");
    put(view, loading("正在读取缴费凭证…"));
    var started = Date.now();
    var round = 0;
    function poll() {
      fetchOrder(orderNo).then(
        function (order) {
          if (seq !== state.seq) return;
          var waiting = drawReceipt(order, started);
          if (waiting && Date.now() - started < TAX_POLL_FOR_MS) {
            later(seq, poll, TAX_POLL_MS[Math.min(round++, TAX_POLL_MS.length)] || 15000);
          }
        },
        function (error) {
          if (seq !== state.seq) return;
          if (error.status === 0 || error.status >= 500) {
            later(seq, poll, 5000);
            return;
          }
          refill(view, failure(error, render));
        }
      );
    }
    poll();
  }

  /** The item's verifiable receipt (its QR page on the server, which anyone can scan to check),
   * once the payment is credited; opened as the mini-program opens a web page (web-view). */
  function receiptLink(item) {
    if (!item.receipt_url) return null;
    return h("a", { class: "btn btn-secondary receipt-link", href: item.receipt_url,
      "data-testid": "receipt-link" }, "查看缴费凭证");
  }

  /** Draws the receipt; true while a paid item still waits for its tax receipt number. */
  function drawReceipt(order, started) {
    var paid = order.status === "paid" || order.status === "refunded";
    var waiting = false;
    var items = h("div", { class: "card", id: "receipt-items" }, h("h2", { text: "缴费明细" }));
    order.items.forEach(function (item) {
      var tax;
      if (item.tax_receipt_no) {
        tax = h("span", { class: "tax-no", "data-testid": "tax-receipt-no", text: item.tax_receipt_no });
      } else if (order.status === "paid") {
        waiting = true;
        var late = Date.now() - started > TAX_POLL_FOR_MS;
        tax = h("span", { class: "tax-wait" }, late ? null : h("span", { class: "spinner" }),
          late ? "税务入库确认较慢，请稍后再来查看" : "等待税务入库确认…");
      } else {
        tax = h("span", { class: "muted", text: "—" });
      }
      put(items, h("div", { class: "receipt-item", "data-ref": item.registration_ref },
        h("div", { class: "row" },
          h("span", { class: "item-title", text: whoFor(item).label + " · " + SCHEME_SHORT[item.scheme] }),
          h("span", { class: "amount-small", text: yuan(item.amount_fen) })),
        h("table", { class: "kv kv-narrow" },
          h("tr", null, h("th", { text: "险种" }), h("td", { text: schemeName(item.scheme) })),
          h("tr", null, h("th", { text: "缴费年度" }), h("td", { text: item.period_year + "年度" })),
          item.grade_yuan ? h("tr", null, h("th", { text: "缴费档次" }), h("td", { text: item.grade_yuan + "元" })) : null,
          item.gov_paid_fen > 0 ? h("tr", null, h("th", { text: "政府代缴" }), h("td", { text: yuan(item.gov_paid_fen) })) : null,
          item.contribution_subsidy_fen > 0 ? h("tr", null, h("th", { text: "政府补贴" }),
            h("td", { text: yuan(item.contribution_subsidy_fen) + "（计入个人账户）" })) : null,
          item.refunded_fen > 0 ? h("tr", null, h("th", { text: "已退款" }), h("td", { text: yuan(item.refunded_fen) })) : null,
          paid ? h("tr", null, h("th", { text: "税票号" }), h("td", null, tax)) : null),
        receiptLink(item)));
    });
    var head = h("div", { class: "card", id: "receipt" },
      h("div", { class: "row" },
        h("h2", { text: "城乡居民两险缴费凭证" }),
        h("span", { class: "badge badge-" + order.status, text: orderStatusText(order) })),
      h("div", { class: "amount", text: yuan(order.total_fen) }),
      h("table", { class: "kv" },
        h("tr", null, h("th", { text: "缴费人" }), h("td", { text: peopleOf(order) })),
        order.paid_at ? h("tr", null, h("th", { text: "支付时间" }), h("td", { text: beijingTime(order.paid_at) })) : null,
        h("tr", null, h("th", { text: "订单号" }), h("td", { class: "number", id: "order-no", text: order.order_no })),
        order.transaction_id ? h("tr", null, h("th", { text: "微信支付单号" }), h("td", { class: "number", text: order.transaction_id })) : null));
    var notes = [];
    if (!paid && order.status !== "refund_due") {
      notes.push(alertBox("warn", "订单" + orderStatusText(order),
        "这笔订单尚未缴费成功，没有缴费凭证。"));
      notes.push(h("a", { class: "btn btn-primary", href: "#/result/" + order.order_no }, "查看订单状态"));
    } else if (waiting) {
      notes.push(alertBox("info", null, "缴费已成功。税务部门确认入库后将显示税票号（电子税票号码），本页会自动更新。"));
    } else if (paid) {
      notes.push(alertBox("ok", null, "税务部门已确认入库。税票号可用于查询缴费入库信息。"));
    }
    refill(view, head, items);
    append(view, notes);
    put(view,
      h("a", { class: "btn btn-secondary", href: "#/mine" }, "我的缴费记录"),
      h("a", { class: "btn btn-plain", href: "#/" }, "返回首页"));
    return waiting;
  }

  // ---------------------------------------------------------------------------------------------
  // My payments.

  var PAGE_SIZE = 10;

  function minePage(seq) {
    setPage("我的缴费记录", "#/");
    var list = h("div", { id: "orders" });
    var more = h("button", { type: "button", class: "btn btn-secondary", id: "more", hidden: true }, "加载更多");
    put(view, list, more);
    var page = 1;
    function next() {
      more.disabled = true;
      put(list, loading());
      api("GET", "/api/mp/v1/orders?page=" + page + "&page_size=" + PAGE_SIZE).then(
        function (answer) {
          if (seq !== state.seq) return;
          var spinner = list.querySelector(".loading");
          if (spinner) spinner.remove();
          var orders = Array.isArray(answer.body) ? answer.body : [];
          if (page === 1 && !orders.length) {
            put(list, h("div", { class: "card", style: "text-align:center" },
              h("p", { class: "muted", text: "还没有缴费记录" }),
              h("a", { class: "btn btn-primary", href: "#/find" }, "去缴费")));
          }
          orders.forEach(function (order) {
            put(list, orderCard(order));
            if (order.status === "created" && order.pay) put(list, cancelOrderButton(seq, order, render));
          });
          var pages = 1;
          try {
            pages = JSON.parse(answer.headers.get("X-Pagination") || "{}").total_pages || 1;
          } catch (e) {
            pages = 1;
          }
          more.hidden = page >= pages;
          more.disabled = false;
          page += 1;
        },
        function (error) {
          if (seq !== state.seq) return;
          refill(view, failure(error, render));
        }
      );
    }
    more.addEventListener("click", next);
    next();
  }

  function orderCard(order) {
    var target = order.status === "paid" || order.status === "refunded" || order.status === "refund_due"
      ? "#/receipt/" : "#/result/";
    var lines = order.items.map(function (item) {
      return whoFor(item).label + " " + SCHEME_SHORT[item.scheme] + " " + item.period_year + "年度";
    });
    return h("a", { class: "card order-card", href: target + order.order_no, "data-order": order.order_no },
      h("div", { class: "row" },
        h("span", { class: "muted", text: beijingTime(order.created_at) }),
        h("span", { class: "badge badge-" + order.status, text: orderStatusText(order) })),
      h("div", { class: "row" },
        h("div", { class: "people" }, lines.map(function (line) { return h("div", { text: line }); })),
        h("div", { style: "text-align:right;white-space:nowrap" },
          h("span", { class: "amount-small", text: yuan(order.total_fen) }), " ",
          h("span", { class: "chevron", text: "›" }))));
  }

  // ---------------------------------------------------------------------------------------------
  // Routing.

  var ROUTES = [
    [/^#?\/?$/, startPage],
    [/^#\/find$/, findPage],
    [/^#\/person\/([A-Za-z0-9]{1,40})$/, personPage],
    [/^#\/basket$/, basketPage],
    [/^#\/result\/([A-Za-z0-9]{1,40})$/, resultPage],
    [/^#\/receipt\/([A-Za-z0-9]{1,40})$/, receiptPage],
    [/^#\/mine$/, minePage],
  ];

  function render() {
    state.seq += 1;
    state.timers.forEach(window.clearTimeout);
    state.timers = [];
    closeSheet();
    hideToast();
    var hash = location.hash || "#/";
    var seq = state.seq;
    for (var i = 0; i < ROUTES.length; i++) {
      var match = ROUTES[i][0].exec(hash);
      if (match) {
        try {
          ROUTES[i][1].apply(null, [seq].concat(match.slice(1)));
        } catch (error) {
          refill(view, failure(error, render));
        }
        return;
      }
    }
    setPage("页面不存在", "#/");
    put(view, h("div", { class: "card" },
      h("p", { text: "没有这个页面。" }),
      h("a", { class: "btn btn-primary", href: "#/" }, "返回首页")));
  }

  window.addEventListener("hashchange", render);
  window.addEventListener("unhandledrejection", function () {
    toast("出了点问题，请稍后再试");
  });

  var params = new URLSearchParams(location.search);
  if (params.has("village")) {
    state.qrVillage = params.get("village") || "";
    history.replaceState(null, "", location.pathname + (location.hash || "#/"));
  }
  render();
  // Like the real mini-program: sign in (wx.login) as soon as it opens.
  currentToken().catch(function () {
    /* the first page that needs the server says what went wrong */
  });
})();
