//! The words of `summary.md` in English and Chinese (`--lang zh`). Numbers, parameter names
//! and trial ids are the same in both.

use clap::ValueEnum;

/// Language of the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

/// Every fixed phrase of the summary.
#[derive(Debug, Clone, Copy)]
pub struct Words {
    pub sweep: &'static str,
    pub chosen: &'static str,
    pub grid_file: &'static str,
    pub corpus: &'static str,
    pub program: &'static str,
    pub metric: &'static str,
    pub swept: &'static str,
    pub nothing_swept: &'static str,
    pub fixed: &'static str,
    pub trials: &'static str,
    pub seeds: &'static str,
    pub started: &'static str,
    pub wall_time: &'static str,
    pub not_finished: &'static str,
    pub concurrent: &'static str,
    pub hardware_threads: &'static str,
    pub on_slurm: &'static str,
    pub tool: &'static str,
    pub completed: &'static str,
    pub failed: &'static str,
    pub running: &'static str,
    pub partial: &'static str,
    pub pending: &'static str,
    pub verdict: &'static str,
    pub configurations: &'static str,
    pub no_completed: &'static str,
    pub parameters: &'static str,
    pub train_ppl: &'static str,
    pub heldout_ppl: &'static str,
    pub best_heldout: &'static str,
    pub convergence: &'static str,
    pub volatility: &'static str,
    pub steps_per_sec: &'static str,
    pub wall: &'static str,
    pub label: &'static str,
    pub at_best: &'static str,
    pub cross_table: &'static str,
    pub charts: &'static str,
    pub curves_caption: &'static str,
    pub heatmap_caption: &'static str,
    pub failed_trials: &'static str,
    pub unfinished_trials: &'static str,
    pub all_trials: &'static str,
    pub trial: &'static str,
    pub steps_done: &'static str,
    pub reason: &'static str,
    pub definitions: &'static str,
    pub sample: &'static str,
    pub fast: &'static str,
    pub medium: &'static str,
    pub slow: &'static str,
    pub stable: &'static str,
    pub moderate: &'static str,
    pub volatile: &'static str,
    pub overfitting: &'static str,
    pub diverged: &'static str,
    pub degraded: &'static str,
    pub stopped: &'static str,
    pub damaged: &'static str,
    pub diverged_trials: &'static str,
    pub damaged_trials: &'static str,
    pub diverged_at: &'static str,
    pub note: &'static str,
    pub file: &'static str,
    pub problem: &'static str,
    pub worker_time: &'static str,
    pub steps: &'static str,
}

const EN: Words = Words {
    chosen: "chosen",
    sweep: "Sweep",
    grid_file: "grid file",
    corpus: "corpus",
    program: "program",
    metric: "metric",
    swept: "swept",
    nothing_swept: "nothing (a single configuration)",
    fixed: "fixed",
    trials: "trials",
    seeds: "seeds",
    started: "started",
    wall_time: "wall time",
    not_finished: "not finished",
    concurrent: "concurrent trials",
    hardware_threads: "hardware threads",
    on_slurm: "trials as Slurm job array tasks",
    tool: "tool",
    completed: "completed",
    failed: "failed",
    running: "running",
    partial: "partial",
    pending: "pending",
    verdict: "Verdict",
    configurations: "Configurations by held-out perplexity",
    no_completed: "No trial has completed yet.",
    parameters: "parameters",
    train_ppl: "train ppl",
    heldout_ppl: "held-out ppl",
    best_heldout: "best held-out ppl",
    convergence: "converged by step",
    volatility: "volatility",
    steps_per_sec: "steps/s",
    wall: "wall",
    label: "label",
    at_best: "At the best setting of the other axes",
    cross_table: "Held-out perplexity",
    charts: "Charts",
    curves_caption: "Perplexity per step, mean over seeds (training: 20-step trailing mean; band: min–max over seeds; markers: held-out)",
    heatmap_caption: "Held-out perplexity, mean over seeds",
    failed_trials: "Failed trials",
    unfinished_trials: "Unfinished trials",
    all_trials: "All trials",
    trial: "trial",
    steps_done: "steps done",
    reason: "reason",
    definitions: "Definitions",
    sample: "Sample",
    fast: "fast",
    medium: "medium",
    slow: "slow",
    stable: "stable",
    moderate: "some fluctuation",
    volatile: "volatile",
    overfitting: "overfitting",
    diverged: "diverged",
    degraded: "degraded",
    stopped: "stopped",
    damaged: "damaged",
    diverged_trials: "Diverged trials",
    damaged_trials: "Damaged trials",
    diverged_at: "diverged at step",
    note: "note",
    file: "file",
    problem: "problem",
    worker_time: "worker time",
    steps: "steps",
};

const ZH: Words = Words {
    chosen: "选择",
    sweep: "超参数扫描",
    grid_file: "网格文件",
    corpus: "语料",
    program: "程序",
    metric: "指标",
    swept: "扫描的参数",
    nothing_swept: "无（单一配置）",
    fixed: "固定参数",
    trials: "试验",
    seeds: "随机种子",
    started: "开始时间",
    wall_time: "总用时",
    not_finished: "未完成",
    concurrent: "个并行试验",
    hardware_threads: "个硬件线程",
    on_slurm: "试验作为 Slurm 作业数组任务运行",
    tool: "工具",
    completed: "完成",
    failed: "失败",
    running: "运行中",
    partial: "部分完成",
    pending: "未开始",
    verdict: "结论",
    configurations: "各配置按验证困惑度排序",
    no_completed: "还没有完成的试验。",
    parameters: "参数量",
    train_ppl: "训练困惑度",
    heldout_ppl: "验证困惑度",
    best_heldout: "最佳验证困惑度",
    convergence: "收敛步数",
    volatility: "波动性",
    steps_per_sec: "步/秒",
    wall: "用时",
    label: "评价",
    at_best: "其他参数取最佳值时",
    cross_table: "验证困惑度",
    charts: "图表",
    curves_caption:
        "每步困惑度，随机种子平均（训练：20 步滑动平均；阴影：种子间最小–最大；标记：验证集）",
    heatmap_caption: "验证困惑度（随机种子平均）",
    failed_trials: "失败的试验",
    unfinished_trials: "未完成的试验",
    all_trials: "全部试验",
    trial: "试验",
    steps_done: "已完成步数",
    reason: "原因",
    definitions: "指标定义",
    sample: "生成样例",
    fast: "快",
    medium: "中等",
    slow: "慢",
    stable: "稳定",
    moderate: "有一定波动",
    volatile: "波动大",
    overfitting: "过拟合",
    diverged: "发散",
    degraded: "后期变差",
    stopped: "提前停止",
    damaged: "已损坏",
    diverged_trials: "发散的试验",
    damaged_trials: "已损坏的试验",
    diverged_at: "发散于第几步",
    note: "备注",
    file: "文件",
    problem: "问题",
    worker_time: "worker 总用时",
    steps: "步",
};

impl Lang {
    /// The phrases of this language.
    pub fn words(self) -> &'static Words {
        match self {
            Lang::En => &EN,
            Lang::Zh => &ZH,
        }
    }
}

impl Lang {
    /// `text` in parentheses after a space (English) or in full-width parentheses (Chinese).
    pub fn paren(self, text: &str) -> String {
        match self {
            Lang::En => format!(" ({text})"),
            Lang::Zh => format!("（{text}）"),
        }
    }

    /// The separator of a list: `, ` or `，`.
    pub fn comma(self) -> &'static str {
        match self {
            Lang::En => ", ",
            Lang::Zh => "，",
        }
    }

    /// A colon ending a sentence before a table or list: `:` or `：`.
    pub fn colon(self) -> &'static str {
        match self {
            Lang::En => ":",
            Lang::Zh => "：",
        }
    }

    /// A failure reason as recorded in `result.json` (always English), in this language: the
    /// phrases sweep writes are translated; what a program printed (after `: `) stays as is.
    pub fn reason(self, reason: &str) -> String {
        if self == Lang::En {
            return reason.to_string();
        }
        let retries = |tail: &str| {
            let n = tail
                .strip_suffix(" retries)")
                .or(tail.strip_suffix(" retry)"))?;
            n.parse::<usize>().ok()
        };
        let (reason, retries) = match reason.rsplit_once(" (after ") {
            Some((head, tail)) if retries(tail).is_some() => (head, retries(tail)),
            _ => (reason, None),
        };
        let mut out = translate_reason(reason);
        if let Some(n) = retries {
            out.push_str(&format!("（重试 {n} 次后）"));
        }
        out
    }
}

/// The Chinese of one failure reason without its retry count.
fn translate_reason(reason: &str) -> String {
    // "training loss became NaN at step 8"
    if let Some(rest) = reason.strip_prefix("training loss became ") {
        if let Some((value, step)) = rest.split_once(" at step ") {
            return format!("训练损失在第 {step} 步变为 {value}");
        }
    }
    // "worker exited with code 3: <stderr tail>", "worker was killed by signal 9", …
    if let Some(rest) = reason.strip_prefix("worker ") {
        let (how, tail) = match rest.split_once(": ") {
            Some((how, tail)) => (how, Some(tail)),
            None => (rest, None),
        };
        let how = if let Some(code) = how.strip_prefix("exited with code ") {
            format!("worker 以退出码 {code} 结束")
        } else if how.starts_with("was killed by SIGKILL") {
            "worker 被 SIGKILL 终止（内存不足或被手动终止）".to_string()
        } else if let Some(sig) = how.strip_prefix("was killed by signal ") {
            format!("worker 被信号 {sig} 终止")
        } else if let Some(e) = how.strip_prefix("could not be run") {
            format!("worker 无法启动{e}")
        } else {
            format!("worker {how}")
        };
        return match tail {
            Some(tail) => format!("{how}：{tail}"),
            None => how,
        };
    }
    // "Slurm task 12_3 ended TIMEOUT without a result"
    if let Some(rest) = reason.strip_prefix("Slurm task ") {
        if let Some(head) = rest.strip_suffix(" without a result") {
            if let Some((task, how)) = head.split_once(' ') {
                let how = match how.strip_prefix("ended ") {
                    Some(state) => format!("以 {state} 状态结束"),
                    None if how == "no longer listed by squeue" => "已不在 squeue 中".to_string(),
                    None => how.to_string(),
                };
                return format!("Slurm 任务 {task} {how}，但没有结果");
            }
        }
    }
    reason.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reasons_sweep_writes_read_in_chinese() {
        let zh = |r: &str| Lang::Zh.reason(r);
        assert_eq!(
            zh("training loss became NaN at step 8"),
            "训练损失在第 8 步变为 NaN"
        );
        assert_eq!(
            zh("worker exited with code 2: error: corpus gone (after 2 retries)"),
            "worker 以退出码 2 结束：error: corpus gone（重试 2 次后）"
        );
        assert_eq!(
            zh("worker was killed by signal 11"),
            "worker 被信号 11 终止"
        );
        assert_eq!(
            zh("Slurm task 17_3 ended FAILED without a result (after 1 retry)"),
            "Slurm 任务 17_3 以 FAILED 状态结束，但没有结果（重试 1 次后）"
        );
        assert_eq!(zh("something new"), "something new");
        assert_eq!(
            Lang::En.reason("worker was killed by signal 11"),
            "worker was killed by signal 11"
        );
    }
}
