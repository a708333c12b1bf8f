// The staff dashboard's page script: draws the charts from each element's data-chart JSON
// (the server writes it; no inline script, so a strict CSP holds), wires the print button, and
// clears a choice that depends on another (the finance page's year, which the scheme decides).
"use strict";

(function () {
  var ACCENT = "#1d5fa7";
  var charts = [];

  function historyOption(data) {
    return {
      animation: false,
      grid: { left: 48, right: 24, top: 48, bottom: 36 },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v + "%"; } },
      legend: { top: 0, left: 0, data: ["完成率", "按期完成所需进度"] },
      xAxis: {
        type: "time", min: data.opens, max: data.ends,
        axisLabel: { formatter: { year: "{yyyy}年", month: "{M}月", day: "{M}/{d}" }, hideOverlap: true }
      },
      yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      series: [
        {
          name: "完成率", type: "line", data: data.points, showSymbol: data.points.length < 40,
          lineStyle: { width: 2, color: ACCENT }, itemStyle: { color: ACCENT }, areaStyle: { opacity: 0.08 },
          markLine: {
            symbol: "none", silent: true,
            label: { position: "end", align: "right", formatter: data.deadline_label + " " + data.deadline },
            lineStyle: { color: "#c53030", type: "dashed" }, data: [{ xAxis: data.deadline }]
          }
        },
        {
          name: "按期完成所需进度", type: "line", data: data.pace, showSymbol: false,
          lineStyle: { type: "dotted", color: "#dd6b20" }, itemStyle: { color: "#dd6b20" }
        }
      ]
    };
  }

  function rankingOption(data) {
    // Best first, top to bottom: a category axis draws its first item at the bottom.
    var names = data.names.slice().reverse();
    var rates = data.rates.slice().reverse();
    return {
      animation: false,
      grid: { left: 8, right: 56, top: 24, bottom: 24, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: function (v) { return v + "%"; } },
      xAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      yAxis: { type: "category", data: names, axisLabel: { interval: 0 } },
      series: [{
        type: "bar", data: rates, barMaxWidth: 18, itemStyle: { color: ACCENT },
        label: { show: true, position: "right", formatter: "{c}%" },
        markLine: {
          symbol: "none", silent: true, label: { formatter: "本级 " + data.average + "%" },
          lineStyle: { color: "#c53030", type: "dashed" }, data: [{ xAxis: data.average }]
        }
      }]
    };
  }

  function draw(element) {
    var data = JSON.parse(element.getAttribute("data-chart"));
    if (data.kind === "ranking") {
      element.style.height = Math.max(220, data.names.length * 26 + 60) + "px";
    }
    var chart = window.echarts.init(element, null, { renderer: "canvas" });
    chart.setOption(data.kind === "ranking" ? rankingOption(data) : historyOption(data));
    charts.push(chart);
  }

  function start() {
    if (window.echarts) {
      Array.prototype.forEach.call(document.querySelectorAll(".chart[data-chart]"), draw);
      window.addEventListener("resize", function () {
        charts.forEach(function (chart) { chart.resize(); });
      });
    }
    Array.prototype.forEach.call(document.querySelectorAll("[data-action=print]"), function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
    Array.prototype.forEach.call(document.querySelectorAll("select[data-resets]"), function (select) {
      select.addEventListener("change", function () {
        // Disabled, the year is left out of the query: the server shows the newest one.
        document.getElementById(select.getAttribute("data-resets")).disabled = true;
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
